from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from kassa.auth.dependencies import Authorize
from kassa.auth.scopes import Scope
from kassa.auth.service import AuthSubject, organization_for
from kassa.kit.db import DbSession
from kassa.kit.errors import not_found_response
from kassa.kit.filters import MetadataQuery
from kassa.kit.pagination import ListResource, PaginationQuery
from kassa.product import service
from kassa.product.schemas import (
    Product,
    ProductCreate,
    ProductListFilters,
    ProductSortProperty,
    ProductUpdate,
    ProductVisibility,
)

router = APIRouter(prefix="/v1/products", tags=["products"])

ProductsRead = Annotated[AuthSubject, Depends(Authorize(Scope.products_read, Scope.products_write))]
ProductsWrite = Annotated[AuthSubject, Depends(Authorize(Scope.products_write))]
NOT_FOUND = not_found_response("Product")


@router.get("/", summary="List Products")
async def list_products(
    subject: ProductsRead,
    session: DbSession,
    pagination: PaginationQuery,
    metadata: MetadataQuery,
    id: Annotated[list[uuid.UUID] | None, Query(description="Filter by product ID.")] = None,
    organization_id: Annotated[
        list[uuid.UUID] | None, Query(description="Filter by organization ID.")
    ] = None,
    query: Annotated[str | None, Query(description="Filter by product name.")] = None,
    is_archived: Annotated[bool | None, Query(description="Filter on archived products.")] = None,
    is_recurring: Annotated[bool | None, Query(description="Filter on recurring products.")] = None,
    benefit_id: Annotated[
        list[uuid.UUID] | None, Query(description="Filter products granting specific benefit.")
    ] = None,
    visibility: Annotated[
        list[ProductVisibility] | None, Query(description="Filter by visibility.")
    ] = None,
    sorting: Annotated[
        list[ProductSortProperty] | None,
        Query(description="Sorting criteria; prefix with `-` for descending order."),
    ] = None,
) -> ListResource[Product]:
    """List products of the token's organization."""
    filters = ProductListFilters(
        id=id,
        organization_id=organization_id,
        query=query,
        is_archived=is_archived,
        is_recurring=is_recurring,
        benefit_id=benefit_id,
        visibility=visibility,
        metadata=metadata,
    )
    rows, total = await service.list_products(
        session,
        subject.organization_id,
        filters,
        [str(s) for s in sorting or [ProductSortProperty.created_at_desc]],
        pagination,
    )
    return ListResource.build(await service.serialized(session, rows), total, pagination)


@router.post("/", status_code=status.HTTP_201_CREATED, summary="Create Product")
async def create_product(
    body: ProductCreate, subject: ProductsWrite, session: DbSession
) -> Product:
    """Create a one-time or recurring product with its prices."""
    organization_id = organization_for(subject, body.organization_id)
    product = await service.create_product(session, organization_id, body)
    [schema] = await service.serialized(session, [product])
    return schema


@router.get("/{id}", summary="Get Product", responses=NOT_FOUND)
async def get_product(id: uuid.UUID, subject: ProductsRead, session: DbSession) -> Product:
    """Get a product by ID."""
    product = await service.get_product(session, subject.organization_id, id)
    [schema] = await service.serialized(session, [product])
    return schema


@router.patch("/{id}", summary="Update Product", responses=NOT_FOUND)
async def update_product(
    id: uuid.UUID, body: ProductUpdate, subject: ProductsWrite, session: DbSession
) -> Product:
    """Update a product. Set `is_archived` to archive it; a `prices` list replaces the active
    prices (existing ones by `id`, new ones by definition; unlisted ones are archived)."""
    product = await service.update_product(session, subject.organization_id, id, body)
    [schema] = await service.serialized(session, [product])
    return schema
