from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from kassa.auth.dependencies import Authorize
from kassa.auth.scopes import Scope
from kassa.auth.service import AuthSubject, organization_for
from kassa.discount import service
from kassa.discount.schemas import (
    Discount,
    DiscountCreate,
    DiscountListFilters,
    DiscountSortProperty,
    DiscountUpdate,
)
from kassa.discount.serialize import discount_schema
from kassa.kit.db import DbSession
from kassa.kit.errors import not_found_response
from kassa.kit.pagination import ListResource, PaginationQuery

router = APIRouter(prefix="/v1/discounts", tags=["discounts"])

DiscountsRead = Annotated[
    AuthSubject, Depends(Authorize(Scope.discounts_read, Scope.discounts_write))
]
DiscountsWrite = Annotated[AuthSubject, Depends(Authorize(Scope.discounts_write))]
NOT_FOUND = not_found_response("Discount")


@router.get("/", summary="List Discounts")
async def list_discounts(
    subject: DiscountsRead,
    session: DbSession,
    pagination: PaginationQuery,
    organization_id: Annotated[
        list[uuid.UUID] | None, Query(description="Filter by organization ID.")
    ] = None,
    query: Annotated[str | None, Query(description="Filter by name or code.")] = None,
    sorting: Annotated[
        list[DiscountSortProperty] | None,
        Query(description="Sorting criteria; prefix with `-` for descending order."),
    ] = None,
) -> ListResource[Discount]:
    """List discounts of the token's organization."""
    filters = DiscountListFilters(organization_id=organization_id, query=query)
    rows, total = await service.list_discounts(
        session,
        subject.organization_id,
        filters,
        [str(s) for s in sorting or [DiscountSortProperty.created_at_desc]],
        pagination,
    )
    return ListResource.build([discount_schema(row) for row in rows], total, pagination)


@router.post(
    "/",
    status_code=status.HTTP_201_CREATED,
    summary="Create Discount",
    responses={201: {"description": "Discount created."}},
)
async def create_discount(
    body: DiscountCreate, subject: DiscountsWrite, session: DbSession
) -> Discount:
    """Create a fixed amount or percentage discount, optionally with a code customers can
    enter at checkout, a validity period, a redemption limit and product restrictions."""
    organization_id = organization_for(subject, body.organization_id)
    discount = await service.create_discount(session, organization_id, body)
    return discount_schema(discount)


@router.get("/{id}", summary="Get Discount", responses=NOT_FOUND)
async def get_discount(id: uuid.UUID, subject: DiscountsRead, session: DbSession) -> Discount:
    """Get a discount by ID."""
    return discount_schema(await service.get_discount(session, subject.organization_id, id))


@router.patch(
    "/{id}",
    summary="Update Discount",
    responses={200: {"description": "Discount updated."}, **NOT_FOUND},
)
async def update_discount(
    id: uuid.UUID, body: DiscountUpdate, subject: DiscountsWrite, session: DbSession
) -> Discount:
    """Update a discount. Its type and duration are fixed; its amount or percentage too once
    it has been redeemed. `products` replaces the product restrictions (`[]`: none)."""
    discount = await service.get_discount(session, subject.organization_id, id, lock=True)
    return discount_schema(await service.update_discount(session, discount, body))


@router.delete(
    "/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete Discount",
    responses={204: {"description": "Discount deleted."}, **NOT_FOUND},
)
async def delete_discount(id: uuid.UUID, subject: DiscountsWrite, session: DbSession) -> None:
    """Delete a discount. Orders keep referring to it; it disappears from the API and its
    code can be used again."""
    discount = await service.get_discount(session, subject.organization_id, id, lock=True)
    await service.delete_discount(session, discount)
