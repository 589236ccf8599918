"""The sandbox's remote side, as HTTP: card tokenization (what a processor's card form does in
the customer's browser) and the simulated authentication page for cards that require it."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from kassa.kit.db import DbSession
from kassa.kit.errors import ResourceNotFound, ValidationFailed
from kassa.kit.money import Money
from kassa.kit.schemas import InputSchema
from kassa.models import Checkout, Payment
from kassa.payments import sandbox

router = APIRouter(tags=["sandbox"])


class SandboxCardInput(InputSchema):
    number: Annotated[str, Field(min_length=1, max_length=32)]
    exp_month: Annotated[int, Field(ge=1, le=12)] | None = None
    exp_year: Annotated[int, Field(ge=2000, le=2200)] | None = None
    cvc: Annotated[str, Field(max_length=4)] | None = None


class SandboxPaymentMethod(BaseModel):
    id: str = Field(description="Pass as `confirmation_token_id` when confirming a checkout.")
    brand: str
    last4: str


@router.post(
    "/v1/sandbox/payment-methods",
    summary="Tokenize a sandbox test card (Kassa extension)",
    openapi_extra={"x-kassa-extension": True},
)
async def tokenize_card(body: SandboxCardInput) -> SandboxPaymentMethod:
    """Test cards: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined, 4000 0000
    0000 9995 has insufficient funds, 4000 0027 6000 3184 requires authentication."""
    try:
        card = sandbox.tokenize(body.number)
    except sandbox.InvalidCard as error:
        raise ValidationFailed.field(("body", "number"), str(error)) from error
    return SandboxPaymentMethod(id=card.payment_method, brand=card.brand, last4=card.last4)


async def _pending_payment(session: DbSession, processor_id: str) -> tuple[Payment, Checkout]:
    statement = (
        select(Payment, Checkout)
        .join(Checkout, Checkout.id == Payment.checkout_id)
        .where(Payment.processor == sandbox.NAME, Payment.processor_id == processor_id)
    )
    row = (await session.execute(statement)).first()
    if row is None:
        raise ResourceNotFound()
    return row[0], row[1]


@router.get("/sandbox/authenticate/{processor_id}", include_in_schema=False)
async def authentication_page(processor_id: str, session: DbSession) -> HTMLResponse:
    payment, checkout = await _pending_payment(session, processor_id)
    amount = Money(payment.amount, payment.currency).format()
    action = f"/sandbox/authenticate/{html.escape(processor_id)}"
    return HTMLResponse(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox authentication</title><link rel="stylesheet" href="/static/checkout.css"></head>
<body class="sandbox-auth"><main class="card">
<p class="badge">Sandbox</p><h1>Authenticate this payment</h1>
<p>Your bank asks you to confirm a payment of <strong>{html.escape(amount)}</strong>.</p>
<form method="post" action="{action}">
<button name="outcome" value="complete" class="primary"
 data-testid="auth-complete">Complete</button>
<button name="outcome" value="fail" class="secondary" data-testid="auth-fail">Fail</button>
</form><p class="hint">Return to <a href="{html.escape(checkout.url)}">the checkout</a>.</p>
</main></body></html>"""
    )


@router.post("/sandbox/authenticate/{processor_id}", include_in_schema=False)
async def authenticate(
    processor_id: str, outcome: Annotated[str, Form()], session: DbSession
) -> RedirectResponse:
    payment, checkout = await _pending_payment(session, processor_id)
    if payment.status == "requires_action":
        succeeded = outcome == "complete"
        await sandbox.send_event(
            session,
            processor_id,
            "payment_intent.succeeded" if succeeded else "payment_intent.payment_failed",
            error=None if succeeded else sandbox.AUTHENTICATION_FAILED,
            amount=payment.amount,
            currency=payment.currency,
            metadata={"kassa_checkout_id": str(checkout.id)},
        )
    return RedirectResponse(checkout.url, status_code=303)
