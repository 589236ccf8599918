from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from kassa.auth.dependencies import Authorize
from kassa.auth.scopes import Scope
from kassa.auth.service import AuthSubject
from kassa.checkout import confirm, service
from kassa.checkout.schemas import (
    Checkout,
    CheckoutConfirm,
    CheckoutCreate,
    CheckoutListFilters,
    CheckoutPublic,
    CheckoutPublicConfirmed,
    CheckoutSortProperty,
    CheckoutStatus,
    CheckoutUpdate,
    CheckoutUpdatePublic,
)
from kassa.checkout.serialize import (
    checkout_public_schema,
    checkout_schema,
    emit,
    emit_and_serialize,
)
from kassa.config import get_settings
from kassa.kit import sql
from kassa.kit.db import DbSession
from kassa.kit.errors import not_found_response
from kassa.kit.pagination import ListResource, PaginationQuery
from kassa.webhook.schemas import WebhookEventType

router = APIRouter(prefix="/v1/checkouts", tags=["checkouts"])

CheckoutsRead = Annotated[
    AuthSubject, Depends(Authorize(Scope.checkouts_read, Scope.checkouts_write))
]
CheckoutsWrite = Annotated[AuthSubject, Depends(Authorize(Scope.checkouts_write))]
NOT_FOUND = not_found_response("Checkout session")
CLIENT_ERRORS = NOT_FOUND | {
    403: {"description": "The checkout is not open."},
    410: {"description": "The checkout session is expired."},
}


def public_base_url(request: Request) -> str:
    return get_settings().public_url or str(request.base_url).rstrip("/")


@router.get("/", summary="List Checkout Sessions")
async def list_checkouts(
    subject: CheckoutsRead,
    session: DbSession,
    pagination: PaginationQuery,
    organization_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    product_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    customer_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    status: Annotated[list[CheckoutStatus] | None, Query()] = None,
    query: Annotated[str | None, Query(description="Filter by customer email or name.")] = None,
    sorting: Annotated[
        list[CheckoutSortProperty] | None,
        Query(description="Sorting criteria; prefix with `-` for descending order."),
    ] = None,
) -> ListResource[Checkout]:
    filters = CheckoutListFilters(
        organization_id=organization_id,
        product_id=product_id,
        customer_id=customer_id,
        status=status,
        query=query,
    )
    rows, total = await service.list_checkouts(
        session,
        subject.organization_id,
        filters,
        [str(s) for s in sorting or [CheckoutSortProperty.created_at_desc]],
        pagination,
    )
    items = [await checkout_schema(session, row) for row in rows]
    return ListResource.build(items, total, pagination)


@router.post("/", status_code=status.HTTP_201_CREATED, summary="Create Checkout Session")
async def create_checkout(
    body: CheckoutCreate, subject: CheckoutsWrite, session: DbSession, request: Request
) -> Checkout:
    """Open a checkout session for one or more products; send the customer to its `url`."""
    # Nothing later in the request reads the new row: its insert is the request's last
    # statement (with no other write, the request makes no BEGIN and no COMMIT).
    checkout = await service.create_checkout(
        session, subject.organization_id, body, public_base_url(request), sql.deferred(session)
    )
    return await emit_and_serialize(session, WebhookEventType.checkout_created, checkout)


@router.get("/{id}", summary="Get Checkout Session", responses=NOT_FOUND)
async def get_checkout(id: uuid.UUID, subject: CheckoutsRead, session: DbSession) -> Checkout:
    checkout = await service.get_checkout(session, subject.organization_id, id)
    return await checkout_schema(session, checkout)


@router.patch(
    "/{id}",
    summary="Update Checkout Session",
    responses=NOT_FOUND | {403: {"description": "The checkout is not open."}},
)
async def update_checkout(
    id: uuid.UUID, body: CheckoutUpdate, subject: CheckoutsWrite, session: DbSession
) -> Checkout:
    checkout = await service.get_checkout(session, subject.organization_id, id, lock=True)
    await service.update_checkout(session, checkout, body)
    return await emit_and_serialize(session, WebhookEventType.checkout_updated, checkout)


@router.get(
    "/client/{client_secret}", summary="Get Checkout Session from Client", responses=CLIENT_ERRORS
)
async def client_get(client_secret: str, session: DbSession) -> CheckoutPublic:
    checkout = await service.get_by_client_secret(session, client_secret)
    return await checkout_public_schema(session, checkout)


@router.patch(
    "/client/{client_secret}",
    summary="Update Checkout Session from Client",
    responses=CLIENT_ERRORS,
)
async def client_update(
    client_secret: str, body: CheckoutUpdatePublic, session: DbSession
) -> CheckoutPublic:
    checkout = await service.get_by_client_secret(session, client_secret, lock=True)
    await service.update_checkout(session, checkout, body)
    await emit(session, WebhookEventType.checkout_updated, checkout)
    return await checkout_public_schema(session, checkout)


@router.post(
    "/client/{client_secret}/confirm",
    summary="Confirm Checkout Session from Client",
    responses=CLIENT_ERRORS | {400: {"description": "The payment failed."}},
)
async def client_confirm(
    client_secret: str, body: CheckoutConfirm, session: DbSession
) -> CheckoutPublicConfirmed:
    """Confirm with the customer's details and payment method; the payment settles
    asynchronously (poll the checkout, or wait for `order.paid`)."""
    checkout = await confirm.confirm_checkout(session, client_secret, body)
    schema = await checkout_public_schema(session, checkout, confirmed=True)
    assert isinstance(schema, CheckoutPublicConfirmed)
    return schema
