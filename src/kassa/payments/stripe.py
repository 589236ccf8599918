"""The Stripe processor: PaymentIntents created and confirmed server-side with a ConfirmationToken.

The customer's browser turns the card into a ConfirmationToken with Stripe.js; Kassa creates and
confirms a PaymentIntent with it under the caller's idempotency key, so a retried confirm is the
same PaymentIntent. The immediate answer only starts the payment: even an intent that already
``succeeded`` settles through its signed webhook event (``stripe_endpoints`` -> inbox ->
settlement), so every processor has the same, single settlement path.

Every call goes through the official SDK's async methods on one HTTP connection pool per event
loop. The SDK retries network failures and 5xx itself (with the same idempotency key); what
still fails is raised as ``ProcessorUnavailable`` and the caller's transaction rolls back.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.config import Settings
from kassa.kit.errors import KassaError
from kassa.kit.sql import Writes
from kassa.payments.processor import PaymentAttempt, PaymentError, PaymentRequest

NAME = "stripe"
HTTP_TIMEOUT_SECONDS = 20.0
NETWORK_RETRIES = 2
# Metadata key under which each intent carries the idempotency key that created it, so an
# attempt whose answer was lost can be found again (see ``_intent_created_with``).
IDEMPOTENCY_METADATA_KEY = "kassa_idempotency_key"
PAYMENT_METHOD_PARAMS = frozenset({"confirmation_token", "payment_method"})
INVALID_PAYMENT_METHOD_MESSAGE = (
    "This payment method cannot be used. Please enter your card details again."
)

log = structlog.get_logger(__name__)


class ProcessorUnavailable(PaymentError, KassaError):
    """Stripe could not be reached or refused the request itself (not a decline). Nothing of
    the attempt is kept (the request rolls back) and the customer may try again: the retry
    reuses the idempotency key, so it cannot charge twice. Answered like a failed payment
    (400 ``PaymentError``, the status Polar's contract documents for confirm)."""

    status_code = 400
    error = "PaymentError"
    commit = False


@dataclass(frozen=True, slots=True)
class StripeRefund:
    id: str
    status: str
    amount: int
    currency: str


class _HTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, sending the encoded form as ``content``: it passes it as
    ``data=<str>``, which httpx deprecates with a warning on every request."""

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        if isinstance(kwargs.get("data"), str | bytes):
            kwargs["content"] = kwargs.pop("data")
        return args, kwargs


def new_http_client() -> stripe.HTTPClient:
    return _HTTPXClient(timeout=HTTP_TIMEOUT_SECONDS)


def build_client(
    api_key: str, api_base: str | None = None, http_client: stripe.HTTPClient | None = None
) -> stripe.StripeClient:
    """A client of the official SDK on its async httpx transport; ``api_base`` points it
    elsewhere than Stripe (tests use a local fake)."""
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=NETWORK_RETRIES,
        http_client=http_client or new_http_client(),
    )


_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop,
    dict[tuple[str, str | None], tuple[stripe.StripeClient, stripe.HTTPClient]],
] = weakref.WeakKeyDictionary()


def _client(api_key: str, api_base: str | None) -> stripe.StripeClient:
    """One client (and connection pool) per event loop: pooled connections belong to a loop."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    if (api_key, api_base) not in per_loop:
        http_client = new_http_client()
        client = build_client(api_key, api_base, http_client)
        per_loop[(api_key, api_base)] = (client, http_client)
    return per_loop[(api_key, api_base)][0]


async def close_clients() -> None:
    """Close this event loop's connection pools (at shutdown; tests call it)."""
    for _, http_client in _clients.pop(asyncio.get_running_loop(), {}).values():
        await http_client.close_async()  # type: ignore[no-untyped-call]


def fallback_intent_id(idempotency_key: str) -> str:
    """The id of an attempt Stripe refused without naming a PaymentIntent: deterministic, so a
    retry of the same attempt records the same payment."""
    return "pi_kassa_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def customer_idempotency_key(request: PaymentRequest) -> str:
    """Derived from who the customer is (organization, email, name), not from the Kassa
    customer's id: a confirm that rolled back made a customer row that no longer exists, and
    its retry must find the same Stripe customer for the PaymentIntent to be the same too."""
    organization = request.metadata.get("kassa_organization_id", "")
    details = "\n".join((organization, request.customer_email, request.customer_name or ""))
    return f"kassa-customer-{hashlib.sha256(details.encode()).hexdigest()[:32]}"


class StripeProcessor:
    name = NAME
    remote = True

    def __init__(self, settings: Settings) -> None:
        key = settings.stripe_secret_key
        self._api_key = key.get_secret_value() if key is not None else None
        self._api_base = settings.stripe_api_base

    def _stripe(self) -> stripe.StripeClient:
        if not self._api_key:
            log.error("stripe_not_configured", missing="KASSA_STRIPE_SECRET_KEY")
            raise ProcessorUnavailable("Card payments are not configured on this server.")
        return _client(self._api_key, self._api_base)

    async def create_payment(
        self, session: AsyncSession, request: PaymentRequest, writes: Writes | None = None
    ) -> PaymentAttempt:
        client = self._stripe()
        try:
            customer_id = await _customer(client, request)
            try:
                intent = await client.v1.payment_intents.create_async(
                    {
                        "amount": request.amount,
                        "currency": request.currency.lower(),
                        "customer": customer_id,
                        "confirmation_token": request.confirmation_token,
                        "confirm": True,
                        "return_url": request.return_url,
                        "metadata": {
                            **request.metadata,
                            IDEMPOTENCY_METADATA_KEY: request.idempotency_key,
                        },
                        "expand": ["payment_method"],
                    },
                    {"idempotency_key": request.idempotency_key},
                )
            except stripe.IdempotencyError:
                # The key was used with other parameters (a retried confirm brings a new
                # ConfirmationToken): the first request ran, so its intent is the answer.
                found = await _intent_created_with(client, customer_id, request.idempotency_key)
                if found is None:
                    raise
                intent = found
        except stripe.CardError as error:
            return _declined_by_card_error(error, request.idempotency_key)
        except stripe.InvalidRequestError as error:
            if error.param not in PAYMENT_METHOD_PARAMS:
                raise _unavailable(error, request) from error
            log.info("stripe_payment_method_refused", code=error.code, param=error.param)
            return PaymentAttempt(
                fallback_intent_id(request.idempotency_key),
                "declined",
                decline_code=_clip(error.code or "invalid_payment_method", 64),
                decline_message=INVALID_PAYMENT_METHOD_MESSAGE,
            )
        except stripe.StripeError as error:
            raise _unavailable(error, request) from error
        return attempt_of(intent)

    async def create_refund(
        self, payment_intent_id: str, amount: int, idempotency_key: str
    ) -> StripeRefund:
        """Refund ``amount`` (minor units) of a PaymentIntent, once per idempotency key. Its
        outcome is final only with the ``refund.updated``/``charge.refunded`` events."""
        client = self._stripe()
        try:
            refund = await client.v1.refunds.create_async(
                {"payment_intent": payment_intent_id, "amount": amount},
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            log.warning("stripe_refund_failed", error=type(error).__name__, code=error.code)
            raise PaymentError(error.user_message or "The refund could not be created.") from error
        return StripeRefund(
            id=refund.id,
            status=str(refund.status or "pending"),
            amount=refund.amount,
            currency=refund.currency,
        )


def attempt_of(intent: stripe.PaymentIntent) -> PaymentAttempt:
    """A PaymentIntent's state as the immediate answer to a payment attempt."""
    brand, last4 = _card(intent.get("payment_method"))
    status = intent.get("status")
    if status in ("succeeded", "processing", "requires_capture"):
        return PaymentAttempt(intent.id, "processing", brand, last4)
    if status == "requires_action":
        return PaymentAttempt(
            intent.id, "requires_action", brand, last4, next_action_url=_redirect_url(intent)
        )
    if status in ("requires_payment_method", "canceled"):
        error = intent.get("last_payment_error") or {}
        return PaymentAttempt(
            intent.id,
            "declined",
            brand,
            last4,
            decline_code=_clip(error.get("decline_code") or error.get("code") or status, 64),
            decline_message=error.get("message") or "The payment was declined.",
        )
    log.error("stripe_unexpected_intent_status", intent_id=intent.id, status=status)
    raise ProcessorUnavailable("The payment could not be started. Please try again.")


def _declined_by_card_error(error: stripe.CardError, idempotency_key: str) -> PaymentAttempt:
    details = error.error
    intent = details.get("payment_intent") if details is not None else None
    intent_id = intent.get("id") if isinstance(intent, dict) else intent
    brand, last4 = _card(details.get("payment_method") if details is not None else None)
    decline_code = (details.get("decline_code") if details is not None else None) or error.code
    log.info("stripe_card_declined", decline_code=decline_code, intent_id=intent_id)
    return PaymentAttempt(
        str(intent_id) if intent_id else fallback_intent_id(idempotency_key),
        "declined",
        brand,
        last4,
        decline_code=_clip(decline_code or "card_declined", 64),
        decline_message=error.user_message or "Your card was declined.",
    )


async def _customer(client: stripe.StripeClient, request: PaymentRequest) -> str:
    """The Stripe customer of the payment, created once per customer_idempotency_key."""
    organization = request.metadata.get("kassa_organization_id", "")
    metadata = {"kassa_customer_id": str(request.customer_id)}
    if organization:
        metadata["kassa_organization_id"] = organization
    try:
        customer = await client.v1.customers.create_async(
            {
                "email": request.customer_email,
                **({"name": request.customer_name} if request.customer_name else {}),
                "metadata": metadata,
            },
            {"idempotency_key": customer_idempotency_key(request)},
        )
        return customer.id
    except stripe.IdempotencyError:
        pass
    # Created before for a Kassa customer row that was rolled back: find it (listing by email
    # is consistent) and point it at the current row.
    found = await client.v1.customers.list_async({"email": request.customer_email, "limit": 100})
    for candidate in found.data:
        if (candidate.get("metadata") or {}).get("kassa_organization_id", "") == organization:
            await client.v1.customers.update_async(candidate.id, {"metadata": metadata})
            return candidate.id
    raise ProcessorUnavailable("The payment could not be started. Please try again.")


async def _intent_created_with(
    client: stripe.StripeClient, customer_id: str, idempotency_key: str
) -> stripe.PaymentIntent | None:
    """The customer's PaymentIntent created under ``idempotency_key`` (listing is consistent,
    unlike search; a customer's recent intents fit in one page)."""
    intents = await client.v1.payment_intents.list_async(
        {"customer": customer_id, "limit": 100, "expand": ["data.payment_method"]}
    )
    for intent in intents.data:
        if (intent.get("metadata") or {}).get(IDEMPOTENCY_METADATA_KEY) == idempotency_key:
            return intent
    return None


def _unavailable(error: stripe.StripeError, request: PaymentRequest) -> ProcessorUnavailable:
    level = (
        "error"
        if isinstance(error, stripe.AuthenticationError | stripe.PermissionError)
        else "warning"
    )
    getattr(log, level)(
        "stripe_request_failed",
        error=type(error).__name__,
        http_status=error.http_status,
        code=error.code,
        stripe_request_id=error.request_id,
        idempotency_key=request.idempotency_key,
    )
    return ProcessorUnavailable(
        "The payment processor could not be reached. Please try again: a retry never charges twice."
    )


def _card(payment_method: Any) -> tuple[str | None, str | None]:
    """Brand and last four digits of an expanded card PaymentMethod (None when not expanded)."""
    if not isinstance(payment_method, dict):
        return None, None
    card = payment_method.get("card") or {}
    brand, last4 = card.get("brand"), card.get("last4")
    return (_clip(str(brand), 32) if brand else None), (str(last4)[-4:] if last4 else None)


def _redirect_url(intent: stripe.PaymentIntent) -> str | None:
    next_action = intent.get("next_action") or {}
    if next_action.get("type") != "redirect_to_url":
        return None  # e.g. use_stripe_sdk: the page handles it with Stripe.js
    url = (next_action.get("redirect_to_url") or {}).get("url")
    return str(url) if url and len(str(url)) <= 2083 else None


def _clip(value: str, length: int) -> str:
    return value[:length]
