from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from kassa.auth.dependencies import Authorize
from kassa.auth.scopes import Scope
from kassa.auth.service import AuthSubject
from kassa.kit.db import DbSession
from kassa.kit.errors import not_found_response
from kassa.kit.filters import MetadataQuery
from kassa.kit.pagination import ListResource, PaginationQuery
from kassa.order import service
from kassa.order.schemas import (
    Order,
    OrderListFilters,
    OrderSortProperty,
    OrderStatus,
    OrderUpdate,
)
from kassa.order.serialize import order_schema

router = APIRouter(prefix="/v1/orders", tags=["orders"])

OrdersRead = Annotated[AuthSubject, Depends(Authorize(Scope.orders_read, Scope.orders_write))]
OrdersWrite = Annotated[AuthSubject, Depends(Authorize(Scope.orders_write))]
NOT_FOUND = not_found_response("Order")


@router.get("/", summary="List Orders")
async def list_orders(
    subject: OrdersRead,
    session: DbSession,
    pagination: PaginationQuery,
    metadata: MetadataQuery,
    organization_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    product_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    product_billing_type: Annotated[
        list[str] | None, Query(description="`one_time` or `recurring`.")
    ] = None,
    discount_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    customer_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    external_customer_id: Annotated[list[str] | None, Query()] = None,
    checkout_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    status: Annotated[list[OrderStatus] | None, Query()] = None,
    sorting: Annotated[
        list[OrderSortProperty] | None,
        Query(description="Sorting criteria; prefix with `-` for descending order."),
    ] = None,
) -> ListResource[Order]:
    """List orders of the token's organization."""
    filters = OrderListFilters(
        organization_id=organization_id,
        product_id=product_id,
        product_billing_type=product_billing_type,
        discount_id=discount_id,
        customer_id=customer_id,
        external_customer_id=external_customer_id,
        checkout_id=checkout_id,
        status=status,
    )
    rows, total = await service.list_orders(
        session,
        subject.organization_id,
        filters,
        metadata,
        [str(s) for s in sorting or [OrderSortProperty.created_at_desc]],
        pagination,
    )
    return ListResource.build([order_schema(row) for row in rows], total, pagination)


@router.get("/{id}", summary="Get Order", responses=NOT_FOUND)
async def get_order(id: uuid.UUID, subject: OrdersRead, session: DbSession) -> Order:
    """Get an order by ID."""
    return order_schema(await service.get_order(session, subject.organization_id, id))


@router.patch("/{id}", summary="Update Order", responses=NOT_FOUND)
async def update_order(
    id: uuid.UUID, body: OrderUpdate, subject: OrdersWrite, session: DbSession
) -> Order:
    """Update an order's billing name or address."""
    order = await service.get_order(session, subject.organization_id, id, lock=True)
    return order_schema(await service.update_order(session, order, body))
