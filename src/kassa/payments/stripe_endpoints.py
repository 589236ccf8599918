"""Stripe's webhook: signed events land in the inbox, exactly once per event id.

The signature (``Stripe-Signature``, HMAC-SHA256 over ``"<t>.<raw body>"`` with the endpoint's
signing secret, at most 300 s old) is verified by the official SDK before anything is stored;
a request that fails it changes nothing. Processing happens in a job (``payments.jobs``), so
the answer is quick and a redelivery of a stored event is acknowledged as a duplicate.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import stripe
import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel

from kassa.config import Settings
from kassa.kit.db import DbSession
from kassa.kit.errors import KassaError, ResourceNotFound, ServiceUnavailable
from kassa.payments import inbox
from kassa.payments.stripe import NAME

MAX_EVENT_BYTES = 1024 * 1024
MAX_EVENT_ID_LENGTH = 128  # processor_events.event_id
MAX_EVENT_TYPE_LENGTH = 64  # processor_events.type

router = APIRouter(tags=["integrations"])
log = structlog.get_logger(__name__)


class InvalidSignature(KassaError):
    status_code = 400
    error = "InvalidSignature"


class InvalidPayload(KassaError):
    status_code = 400
    error = "InvalidPayload"


class PayloadTooLarge(KassaError):
    status_code = 413
    error = "PayloadTooLarge"


class ErrorBody(BaseModel):
    error: str
    detail: str


class StripeWebhookReceived(BaseModel):
    received: Literal[True] = True
    duplicate: bool


@router.post(
    "/v1/integrations/stripe/webhook",
    summary="Receive a Stripe event (Kassa extension)",
    openapi_extra={"x-kassa-extension": True},
    responses={
        400: {"description": "Invalid signature or payload.", "model": ErrorBody},
        404: {"description": "Stripe is not this server's payment processor."},
        413: {"description": "The event is too large.", "model": ErrorBody},
        503: {"description": "The webhook signing secret is not configured."},
    },
)
async def receive_stripe_event(request: Request, session: DbSession) -> StripeWebhookReceived:
    """Endpoint for Stripe's webhooks (configure it in Stripe's dashboard with the events
    `payment_intent.succeeded` and `payment_intent.payment_failed`). Events are verified with
    `KASSA_STRIPE_WEBHOOK_SECRET`, stored once and processed asynchronously; a redelivered
    event is acknowledged with `duplicate: true`."""
    settings: Settings = request.app.state.settings
    if settings.payment_processor != NAME:
        raise ResourceNotFound()
    if settings.stripe_webhook_secret is None:
        log.error("stripe_webhook_secret_missing", missing="KASSA_STRIPE_WEBHOOK_SECRET")
        # Stripe retries 5xx answers for days: no event is lost while this is fixed.
        raise ServiceUnavailable("The Stripe webhook signing secret is not configured.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_EVENT_BYTES:
        raise PayloadTooLarge("The event is larger than 1 MiB.")
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        raise PayloadTooLarge("The event is larger than 1 MiB.")
    event = _verified_event(
        body,
        request.headers.get("stripe-signature"),
        settings.stripe_webhook_secret.get_secret_value(),
    )
    stored = await inbox.receive(session, NAME, event["id"], event["type"], event)
    log.info(
        "stripe_event_received", event_id=event["id"], type=event["type"], duplicate=not stored
    )
    return StripeWebhookReceived(duplicate=not stored)


def _verified_event(body: bytes, signature: str | None, secret: str) -> dict[str, Any]:
    if not signature:
        log.warning("stripe_webhook_rejected", reason="missing_signature")
        raise InvalidSignature("The Stripe-Signature header is missing.")
    try:
        stripe.Webhook.construct_event(body, signature, secret)  # type: ignore[no-untyped-call]
    except stripe.SignatureVerificationError as error:
        log.warning("stripe_webhook_rejected", reason="bad_signature", detail=str(error))
        raise InvalidSignature(f"The Stripe signature does not verify: {error}") from error
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        raise InvalidPayload("The event is not a JSON object.") from error
    event = json.loads(body)  # verified and parsed above; kept exactly as Stripe sent it
    if not isinstance(event, dict):
        raise InvalidPayload("The event is not a JSON object.")
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID_LENGTH:
        raise InvalidPayload("The event has no valid `id`.")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= MAX_EVENT_TYPE_LENGTH:
        raise InvalidPayload("The event has no valid `type`.")
    if b"\\u0000" in body:
        raise InvalidPayload("The event contains a NUL character, which cannot be stored.")
    try:  # what PostgreSQL's jsonb would refuse: NaN, Infinity, lone surrogates
        json.dumps(event, ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, UnicodeEncodeError) as error:
        raise InvalidPayload("The event cannot be stored as JSON.") from error
    return event
