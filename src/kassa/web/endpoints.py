"""The hosted checkout pages: the checkout itself and its confirmation (thank-you) page.

Server-rendered from the same public checkout the page script then talks to, so the product,
price and total show before any script runs. An unknown client secret answers a 404 page, an
expired checkout a friendly 410 page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.checkout import service
from kassa.checkout.errors import ExpiredCheckoutError
from kassa.checkout.schemas import CheckoutPublic
from kassa.checkout.serialize import checkout_public_schema
from kassa.kit.db import DbSession
from kassa.kit.errors import ResourceNotFound
from kassa.web.templating import render
from kassa.web.view import checkout_context, page_state

router = APIRouter(include_in_schema=False)


def not_found_page() -> Response:
    return render(
        "error.html",
        {
            "title": "Checkout not found",
            "message": "This checkout link is not valid. Please check the link, or ask the "
            "seller for a new one.",
            "testid": "not-found",
        },
        status_code=404,
    )


def expired_page() -> Response:
    return render(
        "error.html",
        {
            "title": "This checkout has expired",
            "message": "For your security, checkout sessions are only valid for a limited "
            "time. Nothing was charged. Please go back to the seller's site to start again.",
            "testid": "expired",
        },
        status_code=410,
    )


async def _load(session: AsyncSession, client_secret: str) -> CheckoutPublic | Response:
    try:
        checkout = await service.get_by_client_secret(session, client_secret)
    except ResourceNotFound:
        return not_found_page()
    except ExpiredCheckoutError:
        return expired_page()
    return await checkout_public_schema(session, checkout)


def _frame_ancestors(checkout: CheckoutPublic) -> str:
    return checkout.embed_origin or "'none'"


@router.get("/checkout/{client_secret}")
async def checkout_page(client_secret: str, request: Request, session: DbSession) -> Response:
    loaded = await _load(session, client_secret)
    if isinstance(loaded, Response):
        return loaded
    context = checkout_context(loaded, request.headers.get("accept-language"))
    return render("checkout/page.html", context, frame_ancestors=_frame_ancestors(loaded))


@router.get("/checkout/{client_secret}/confirmation")
async def confirmation_page(client_secret: str, request: Request, session: DbSession) -> Response:
    loaded = await _load(session, client_secret)
    if isinstance(loaded, Response):
        return loaded
    if page_state(loaded) == "open":
        return RedirectResponse(f"/checkout/{client_secret}", status_code=303)
    context = checkout_context(loaded, request.headers.get("accept-language"))
    return render("checkout/confirmation.html", context, frame_ancestors=_frame_ancestors(loaded))


@router.get("/checkout/{path:path}")
async def unknown_checkout_page(path: str) -> Response:
    """Any other address under /checkout/ (a mangled link) gets the page, not the API's 404."""
    return not_found_page()
