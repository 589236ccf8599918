from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from kassa.auth.dependencies import Authorize
from kassa.auth.scopes import Scope
from kassa.auth.service import AuthSubject
from kassa.checkout import links
from kassa.checkout.endpoints import public_base_url
from kassa.checkout.link_schemas import (
    CheckoutLink,
    CheckoutLinkCreate,
    CheckoutLinkSortProperty,
    CheckoutLinkUpdate,
)
from kassa.checkout.serialize import emit
from kassa.kit.db import DbSession
from kassa.kit.errors import not_found_response
from kassa.kit.pagination import ListResource, PaginationQuery
from kassa.webhook.schemas import WebhookEventType

router = APIRouter(prefix="/v1/checkout-links", tags=["checkout-links"])
open_router = APIRouter(include_in_schema=False)

LinksRead = Annotated[
    AuthSubject, Depends(Authorize(Scope.checkout_links_read, Scope.checkout_links_write))
]
LinksWrite = Annotated[AuthSubject, Depends(Authorize(Scope.checkout_links_write))]
NOT_FOUND = not_found_response("Checkout link")


@router.get("/", summary="List Checkout Links")
async def list_links(
    subject: LinksRead,
    session: DbSession,
    pagination: PaginationQuery,
    request: Request,
    organization_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    product_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    sorting: Annotated[list[CheckoutLinkSortProperty] | None, Query()] = None,
) -> ListResource[CheckoutLink]:
    rows, total = await links.list_links(
        session,
        subject.organization_id,
        product_id,
        [str(s) for s in sorting or [CheckoutLinkSortProperty.created_at_desc]],
        pagination,
    )
    base = public_base_url(request)
    return ListResource.build(
        [await links.link_schema(session, row, base) for row in rows], total, pagination
    )


@router.post("/", status_code=status.HTTP_201_CREATED, summary="Create Checkout Link")
async def create_link(
    body: CheckoutLinkCreate, subject: LinksWrite, session: DbSession, request: Request
) -> CheckoutLink:
    link = await links.create_link(session, subject.organization_id, body)
    return await links.link_schema(session, link, public_base_url(request))


@router.get("/{id}", summary="Get Checkout Link", responses=NOT_FOUND)
async def get_link(
    id: uuid.UUID, subject: LinksRead, session: DbSession, request: Request
) -> CheckoutLink:
    link = await links.get_link(session, subject.organization_id, id)
    return await links.link_schema(session, link, public_base_url(request))


@router.patch("/{id}", summary="Update Checkout Link", responses=NOT_FOUND)
async def update_link(
    id: uuid.UUID,
    body: CheckoutLinkUpdate,
    subject: LinksWrite,
    session: DbSession,
    request: Request,
) -> CheckoutLink:
    link = await links.get_link(session, subject.organization_id, id, lock=True)
    link = await links.update_link(session, link, body)
    return await links.link_schema(session, link, public_base_url(request))


@router.delete(
    "/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete Checkout Link",
    responses=NOT_FOUND,
)
async def delete_link(id: uuid.UUID, subject: LinksWrite, session: DbSession) -> Response:
    link = await links.get_link(session, subject.organization_id, id, lock=True)
    await links.delete_link(session, link)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@open_router.get("/checkout-links/{client_secret}")
async def open_link(
    client_secret: str,
    session: DbSession,
    request: Request,
    customer_email: str | None = None,
    discount_code: str | None = None,
) -> RedirectResponse:
    """Opening a link starts a fresh checkout and sends the browser to it."""
    checkout = await links.open_link(
        session,
        client_secret,
        public_base_url(request),
        customer_email=customer_email or None,
        discount_code=discount_code or None,
    )
    await emit(session, WebhookEventType.checkout_created, checkout)
    return RedirectResponse(checkout.url, status_code=303)
