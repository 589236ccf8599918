"""Stripe's wire format and API objects for the fake Stripe (``tests/support/fake_stripe``).

Customers, PaymentIntents (created and confirmed with a test ConfirmationToken), refunds and
events, with Stripe's idempotency rules: the answer to a request with an ``Idempotency-Key`` is
stored and replayed for the same parameters; other parameters get 400 ``idempotency_error``;
requests refused by validation are not stored (as Stripe does).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

TEST_SECRET_KEY = "sk_test_kassa_fake_0000000000000000"
TEST_WEBHOOK_SECRET = "whsec_kassa_fake_000000000000000000"
API_VERSION = "2025-01-01.fake"

JSON = dict[str, Any]


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    outcome: Literal["succeeded", "declined", "requires_action"]
    decline_code: str | None = None
    message: str | None = None


CONFIRMATION_TOKENS: dict[str, TestCard] = {
    "ctoken_visa": TestCard("visa", "4242", "succeeded"),
    "ctoken_mastercard": TestCard("mastercard", "4444", "succeeded"),
    "ctoken_chargeDeclined": TestCard(
        "visa", "0002", "declined", "generic_decline", "Your card was declined."
    ),
    "ctoken_insufficientFunds": TestCard(
        "visa", "9995", "declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "ctoken_authenticationRequired": TestCard("visa", "3184", "requires_action"),
}


def stripe_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header value for ``payload``, as Stripe computes it."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def parse_form(raw: str) -> JSON:
    """Stripe's form encoding (``metadata[a]=1&expand[0]=x``) back into nested values."""
    root: JSON = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        match = _KEY.match(key)
        if match is None:
            raise ApiError(400, "invalid_request_error", f"Invalid parameter name {key!r}.")
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part or str(len(node)), {})
        node[parts[-1] or str(len(node))] = value
    result: JSON = _lists(root)
    return result


def _lists(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    items = {k: _lists(v) for k, v in value.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


class ApiError(Exception):
    """An error answer: ``{"error": {"type", "message", ...}}`` with an HTTP status."""

    def __init__(self, status: int, type_: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.store = bool(fields.pop("store", True))
        self.status = status
        self.body: JSON = {"error": {"type": type_, "message": message, **fields}}


def _invalid(message: str, param: str, code: str, status: int = 400) -> ApiError:
    return ApiError(status, "invalid_request_error", message, param=param, code=code, store=False)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass
class StripeResources:
    customers: dict[str, JSON] = field(default_factory=dict)
    intents: dict[str, JSON] = field(default_factory=dict)
    payment_methods: dict[str, JSON] = field(default_factory=dict)
    refunds: dict[str, JSON] = field(default_factory=dict)
    events: dict[str, JSON] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, JSON]] = field(default_factory=dict)
    base_url: str = ""

    def request(
        self, method: str, path: str, params: JSON, key: str | None, new_events: list[JSON]
    ) -> tuple[int, JSON, bool]:
        """(status, body, replayed); events the request caused are appended to ``new_events``."""
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        if key is not None and key in self.idempotency:
            stored_fingerprint, status, body = self.idempotency[key]
            if stored_fingerprint != fingerprint:
                message = (
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with."
                )
                return 400, ApiError(400, "idempotency_error", message).body, False
            return status, body, True
        try:
            status, body, store = 200, self._route(method, path, params, new_events), True
        except ApiError as error:
            status, body, store = error.status, error.body, error.store
        if key is not None and store and status < 500:
            self.idempotency[key] = (fingerprint, status, body)
        return status, body, False

    def event(self, intent_id: str, event_type: str) -> JSON:
        """A new event (new id) carrying the intent as it is now."""
        event: JSON = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": {"object": json.loads(json.dumps(self.intents[intent_id]))},
        }
        self.events[event["id"]] = event
        return event

    def _route(self, method: str, path: str, params: JSON, new_events: list[JSON]) -> JSON:
        if (method, path) == ("POST", "/v1/customers"):
            return self._create_customer(params)
        if (method, path) == ("GET", "/v1/customers"):
            return self._list_customers(params)
        if method == "POST" and path.startswith("/v1/customers/"):
            return self._update_customer(path.rsplit("/", 1)[1], params)
        if (method, path) == ("POST", "/v1/payment_intents"):
            return self._create_intent(params, new_events)
        if (method, path) == ("GET", "/v1/payment_intents"):
            return self._list_intents(params)
        if method == "GET" and path.startswith("/v1/payment_intents/"):
            return self._render(self._intent(path.rsplit("/", 1)[1], "intent"), params)
        if (method, path) == ("POST", "/v1/refunds"):
            return self._create_refund(params)
        raise ApiError(
            404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})."
        )

    def _create_customer(self, params: JSON) -> JSON:
        customer: JSON = {
            "id": new_id("cus"),
            "object": "customer",
            "created": int(time.time()),
            "email": params.get("email"),
            "name": params.get("name"),
            "metadata": params.get("metadata", {}),
            "livemode": False,
        }
        self.customers[customer["id"]] = customer
        return customer

    def _list_customers(self, params: JSON) -> JSON:
        newest_first = list(reversed(self.customers.values()))
        found = [c for c in newest_first if params.get("email") in (None, c["email"])]
        data = found[: int(params.get("limit", 10))]
        return {"object": "list", "url": "/v1/customers", "has_more": False, "data": data}

    def _update_customer(self, customer_id: str, params: JSON) -> JSON:
        customer = self.customers.get(customer_id)
        if customer is None:
            message = f"No such customer: '{customer_id}'"
            raise _invalid(message, "customer", "resource_missing", 404)
        metadata = {**customer["metadata"], **params.pop("metadata", {})}
        customer.update(params, metadata={k: v for k, v in metadata.items() if v != ""})
        return customer

    def _create_intent(self, params: JSON, new_events: list[JSON]) -> JSON:
        amount = str(params.get("amount", ""))
        if not amount.isdigit() or int(amount) < 1:
            raise _invalid("Invalid positive integer", "amount", "parameter_invalid_integer")
        if not params.get("currency"):
            raise _invalid("Missing required param: currency.", "currency", "parameter_missing")
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise _invalid(f"No such customer: '{customer}'", "customer", "resource_missing")
        token, confirm = params.get("confirmation_token"), params.get("confirm") == "true"
        card = CONFIRMATION_TOKENS.get(str(token)) if token else None
        if confirm and card is None:
            message = f"No such confirmation_token: '{token}'"
            raise _invalid(message, "confirmation_token", "resource_missing")
        intent: JSON = {
            "id": new_id("pi"),
            "object": "payment_intent",
            "amount": int(amount),
            "amount_received": 0,
            "currency": str(params["currency"]).lower(),
            "customer": customer,
            "created": int(time.time()),
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "status": "requires_payment_method",
            "payment_method": None,
            "next_action": None,
            "last_payment_error": None,
            "return_url": params.get("return_url"),
            "client_secret": new_id("pi_secret"),
        }
        self.intents[intent["id"]] = intent
        if not confirm or card is None:
            return self._render(intent, params)
        method: JSON = {
            "id": new_id("pm"),
            "object": "payment_method",
            "type": "card",
            "card": {"brand": card.brand, "last4": card.last4, "exp_month": 12, "exp_year": 2034},
        }
        self.payment_methods[method["id"]] = method
        intent["payment_method"] = method["id"]
        if card.outcome == "succeeded":
            intent.update(status="succeeded", amount_received=intent["amount"])
            new_events.append(self.event(intent["id"], "payment_intent.succeeded"))
        elif card.outcome == "requires_action":
            intent["status"] = "requires_action"
            redirect = {"url": f"{self.base_url}/authenticate/{intent['id']}"}
            redirect["return_url"] = intent["return_url"]
            intent["next_action"] = {"type": "redirect_to_url", "redirect_to_url": redirect}
        else:
            error = {"code": "card_declined", "decline_code": card.decline_code}
            intent["last_payment_error"] = error | {"type": "card_error", "message": card.message}
            new_events.append(self.event(intent["id"], "payment_intent.payment_failed"))
            raise ApiError(
                402,
                "card_error",
                str(card.message),
                **error,
                payment_method=method,
                payment_intent=self._render(intent, {}),
            )
        return self._render(intent, params)

    def complete_authentication(self, intent_id: str, succeed: bool) -> JSON:
        """The customer passes (or fails) 3-D Secure: the intent moves on; returns its event."""
        intent = self.intents[intent_id]
        intent["next_action"] = None
        if succeed:
            intent.update(status="succeeded", amount_received=intent["amount"])
            return self.event(intent_id, "payment_intent.succeeded")
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {
            "type": "invalid_request_error",
            "code": "payment_intent_authentication_failure",
            "message": "We are unable to authenticate your payment method.",
        }
        return self.event(intent_id, "payment_intent.payment_failed")

    def _list_intents(self, params: JSON) -> JSON:
        newest_first = list(reversed(self.intents.values()))
        found = [i for i in newest_first if params.get("customer") in (None, i["customer"])]
        data = [self._render(i, params, "data.") for i in found[: int(params.get("limit", 10))]]
        return {"object": "list", "url": "/v1/payment_intents", "has_more": False, "data": data}

    def _create_refund(self, params: JSON) -> JSON:
        intent = self._intent(str(params.get("payment_intent")), "payment_intent")
        refunded = sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"]
        )
        refundable = intent["amount_received"] - refunded
        amount = int(params.get("amount", refundable))
        if intent["status"] != "succeeded" or not 0 < amount <= refundable:
            raise _invalid("The refund amount is not available.", "amount", "amount_too_large")
        refund: JSON = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "status": "succeeded",
            "created": int(time.time()),
            "metadata": params.get("metadata", {}),
        }
        self.refunds[refund["id"]] = refund
        return refund

    def _intent(self, intent_id: str, param: str) -> JSON:
        intent = self.intents.get(intent_id)
        if intent is None:
            message = f"No such payment_intent: '{intent_id}'"
            raise _invalid(message, param, "resource_missing", 404)
        return intent

    def _render(self, intent: JSON, params: JSON, prefix: str = "") -> JSON:
        rendered = dict(intent)
        if f"{prefix}payment_method" in params.get("expand", []) and intent["payment_method"]:
            rendered["payment_method"] = self.payment_methods[intent["payment_method"]]
        return rendered
