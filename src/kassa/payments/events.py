"""Processor events in Stripe's wire format (the sandbox speaks it too), reduced to settlements."""

from __future__ import annotations

from typing import Any

from kassa.payments.processor import PaymentSettlement

SETTLEMENT_TYPES = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed"})


def settlement_of(event_type: str, payload: dict[str, Any]) -> PaymentSettlement | None:
    """The settlement an event reports, or None for events Kassa does not act on."""
    if event_type not in SETTLEMENT_TYPES:
        return None
    intent = payload.get("data", {}).get("object", {})
    error = intent.get("last_payment_error") or {}
    return PaymentSettlement(
        processor_id=str(intent["id"]),
        status="succeeded" if event_type == "payment_intent.succeeded" else "failed",
        amount=int(intent.get("amount_received") or intent.get("amount") or 0),
        currency=str(intent.get("currency", "")).lower(),
        decline_code=error.get("decline_code") or error.get("code"),
        decline_message=error.get("message"),
        checkout_id=(intent.get("metadata") or {}).get("kassa_checkout_id"),
    )


def payment_intent_event(
    event_id: str,
    event_type: str,
    intent_id: str,
    *,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    created: int,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An event body as Stripe sends it for a PaymentIntent."""
    succeeded = event_type == "payment_intent.succeeded"
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": created,
        "livemode": False,
        "data": {
            "object": {
                "id": intent_id,
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount if succeeded else 0,
                "currency": currency,
                "status": "succeeded" if succeeded else "requires_payment_method",
                "metadata": metadata,
                "last_payment_error": error,
            }
        },
    }
