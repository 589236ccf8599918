"""The sandbox processor: deterministic test cards, no money, Stripe's behaviour and wire format.

It plays both sides. As the remote processor it decides each payment's fate from the test card
and sends its settlement event by writing it to Kassa's inbox, exactly where a real processor's
webhook lands, so settlement is asynchronous (a job processes it) and goes through the same
code. Intent ids derive from the idempotency key, so a retried charge is the same payment.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.kit.sql import Writes
from kassa.payments import inbox
from kassa.payments.events import payment_intent_event
from kassa.payments.processor import PaymentAttempt, PaymentRequest

NAME = "sandbox"


@dataclass(frozen=True, slots=True)
class TestCard:
    payment_method: str
    brand: str
    last4: str
    outcome: str  # succeeded | declined | requires_action
    decline_code: str | None = None
    message: str | None = None


TEST_CARDS: dict[str, TestCard] = {
    "4242424242424242": TestCard("pm_card_visa", "visa", "4242", "succeeded"),
    "5555555555554444": TestCard("pm_card_mastercard", "mastercard", "4444", "succeeded"),
    "4000000000000002": TestCard(
        "pm_card_chargeDeclined",
        "visa",
        "0002",
        "declined",
        "generic_decline",
        "Your card was declined.",
    ),
    "4000000000009995": TestCard(
        "pm_card_chargeDeclinedInsufficientFunds",
        "visa",
        "9995",
        "declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "4000002760003184": TestCard(
        "pm_card_authenticationRequired", "visa", "3184", "requires_action"
    ),
}
PAYMENT_METHODS: dict[str, TestCard] = {card.payment_method: card for card in TEST_CARDS.values()}
AUTHENTICATION_FAILED = {
    "code": "payment_intent_authentication_failure",
    "message": "We are unable to authenticate your payment method. Please choose a different "
    "payment method and try again.",
}


class InvalidCard(ValueError):
    pass


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def tokenize(number: str) -> TestCard:
    """What the remote side answers for a card number typed into the checkout page."""
    digits = "".join(ch for ch in number if not ch.isspace() and ch != "-")
    if not digits.isdigit() or not 12 <= len(digits) <= 19 or not luhn_valid(digits):
        raise InvalidCard("Your card number is invalid.")
    card = TEST_CARDS.get(digits)
    if card is None:
        raise InvalidCard(
            "This is the sandbox: use a test card such as 4242 4242 4242 4242. Real cards are "
            "refused."
        )
    return card


def intent_id(idempotency_key: str) -> str:
    return "sbx_pi_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


class SandboxProcessor:
    name = NAME
    remote = False  # it plays the processor's side in this process

    async def create_payment(
        self, session: AsyncSession, request: PaymentRequest, writes: Writes | None = None
    ) -> PaymentAttempt:
        processor_id = intent_id(request.idempotency_key)
        card = PAYMENT_METHODS.get(request.confirmation_token)
        if card is None:
            return PaymentAttempt(
                processor_id,
                "declined",
                decline_code="invalid_payment_method",
                decline_message="Unknown payment method; use a sandbox test card.",
            )
        if card.outcome == "declined":
            error = {"code": "card_declined", "decline_code": str(card.decline_code)}
            error["message"] = str(card.message)
            failed = "payment_intent.payment_failed"
            await send_event(session, processor_id, failed, request, error, writes=writes)
            return PaymentAttempt(
                processor_id,
                "declined",
                card.brand,
                card.last4,
                decline_code=card.decline_code,
                decline_message=card.message,
            )
        if card.outcome == "requires_action":
            return PaymentAttempt(
                processor_id,
                "requires_action",
                card.brand,
                card.last4,
                next_action_url=f"/sandbox/authenticate/{processor_id}",
            )
        await send_event(session, processor_id, "payment_intent.succeeded", request, writes=writes)
        return PaymentAttempt(processor_id, "processing", card.brand, card.last4)


async def send_event(
    session: AsyncSession,
    processor_id: str,
    event_type: str,
    request: PaymentRequest | None = None,
    error: dict[str, str] | None = None,
    *,
    amount: int | None = None,
    currency: str | None = None,
    metadata: dict[str, str] | None = None,
    writes: Writes | None = None,
) -> bool:
    """Deliver the remote side's event into the inbox (at most once per intent and type);
    False when it was there already. With ``writes``, it goes in the statement they send, and
    is reported as delivered."""
    payload: dict[str, Any] = payment_intent_event(
        f"evt_{processor_id}_{event_type.rsplit('.', 1)[-1]}",
        event_type,
        processor_id,
        amount=request.amount if request else int(amount or 0),
        currency=request.currency if request else str(currency),
        metadata=request.metadata if request else dict(metadata or {}),
        created=int(time.time()),
        error=error,
    )
    if writes is not None:
        inbox.receive_with(writes, NAME, payload["id"], event_type, payload)
        return True
    return await inbox.receive(session, NAME, payload["id"], event_type, payload)
