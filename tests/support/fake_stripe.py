"""A fake Stripe API on 127.0.0.1: the far end of Kassa's Stripe processor in tests.

The official SDK pointed at it (``KASSA_STRIPE_API_BASE``) works unchanged: form-encoded bodies
with bracket keys, Bearer auth with ``TEST_SECRET_KEY``, JSON objects and errors, idempotency
keys (see ``fake_stripe_resources``). Like Stripe, it sends the resulting events to a webhook
URL after answering, signed with ``Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 of
"<t>.<body>">``; tests can deliver any event again, late, out of order or with a bad signature,
and inject faults: a 5xx answer, or an answer lost after the work was done.

Confirmation tokens: ``ctoken_visa`` and ``ctoken_mastercard`` succeed,
``ctoken_chargeDeclined`` and ``ctoken_insufficientFunds`` are declined,
``ctoken_authenticationRequired`` waits for ``complete_authentication``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from tests.support.fake_stripe_resources import (
    CONFIRMATION_TOKENS,
    JSON,
    TEST_SECRET_KEY,
    TEST_WEBHOOK_SECRET,
    ApiError,
    StripeResources,
    new_id,
    parse_form,
    stripe_signature,
)

__all__ = [
    "CONFIRMATION_TOKENS",
    "TEST_SECRET_KEY",
    "TEST_WEBHOOK_SECRET",
    "ApiCall",
    "Delivery",
    "FakeStripe",
    "Fault",
    "running_fake_stripe",
    "stripe_signature",
]


@dataclass(frozen=True)
class Delivery:
    event_id: str
    type: str
    status: int | None  # None: the webhook URL did not answer
    answer: str


@dataclass
class Fault:
    """``error``: answer ``status`` without doing anything; ``drop``: do the work (and store
    its answer under the idempotency key), then close the connection without answering."""

    kind: Literal["error", "drop"]
    path: str = "/v1/"
    status: int = 500
    times: int = 1


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    idempotency_key: str | None
    params: JSON
    status: int
    replayed: bool


Answer = tuple[int, JSON, bool] | None  # None: answer nothing (a dropped response)


class FakeStripe:
    def __init__(
        self,
        *,
        api_key: str = TEST_SECRET_KEY,
        webhook_secret: str = TEST_WEBHOOK_SECRET,
        webhook_url: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.auto_events = True  # send each event once the answer that caused it is out
        self.delivery_attempts = 3  # automatic deliveries retry non-2xx answers
        self.deliveries: list[Delivery] = []
        self.calls: list[ApiCall] = []
        self.faults: list[Fault] = []
        self._resources = StripeResources()
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._resources.base_url = self.url

    def start(self) -> FakeStripe:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.wait_deliveries()
        self._server.shutdown()
        self._server.server_close()

    # -- what tests look at and drive -------------------------------------------------------

    @property
    def intents(self) -> dict[str, JSON]:
        with self._lock:
            return dict(self._resources.intents)

    @property
    def intents_created(self) -> int:
        """PaymentIntents actually created (a replayed idempotent request creates none)."""
        with self._lock:
            return len(self._resources.intents)

    @property
    def customers(self) -> dict[str, JSON]:
        with self._lock:
            return dict(self._resources.customers)

    @property
    def refunds(self) -> dict[str, JSON]:
        with self._lock:
            return dict(self._resources.refunds)

    def add_fault(self, kind: Literal["error", "drop"], path: str = "/v1/", **kw: Any) -> None:
        with self._lock:
            self.faults.append(Fault(kind, path, **kw))

    def delivered(self, event_type: str | None = None) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if event_type in (None, d.type)]

    def wait_deliveries(self, timeout: float = 30.0) -> None:
        """Wait until every automatic delivery started so far is done."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def event(self, intent_id: str, event_type: str) -> JSON:
        """A new event (new id) carrying the intent as it is now, e.g. to send one late."""
        with self._lock:
            return self._resources.event(intent_id, event_type)

    def events_for(self, intent_id: str, event_type: str | None = None) -> list[JSON]:
        with self._lock:
            return [
                e
                for e in self._resources.events.values()
                if e["data"]["object"]["id"] == intent_id and event_type in (None, e["type"])
            ]

    def deliver(
        self,
        event: JSON,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        body: bytes | None = None,
        signature: str | None = "sign",
    ) -> Delivery:
        """POST the event to the webhook URL now: signed (with ``secret``, at ``timestamp``),
        with a given ``signature`` header, or none (``None``); ``body`` replaces the signed
        bytes, as a tampering proxy would."""
        assert self.webhook_url, "no webhook URL configured"
        payload = json.dumps(event).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0"}
        if signature == "sign":
            key = secret or self.webhook_secret
            headers["Stripe-Signature"] = stripe_signature(payload, key, timestamp)
        elif signature is not None:
            headers["Stripe-Signature"] = signature
        try:
            answer = httpx.post(self.webhook_url, content=body or payload, headers=headers)
            delivery = Delivery(event["id"], event["type"], answer.status_code, answer.text)
        except httpx.HTTPError as error:
            delivery = Delivery(event["id"], event["type"], None, repr(error))
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def redeliver(self, event_id: str) -> Delivery:
        """The same event again (same id, fresh signature), as Stripe's retries are."""
        with self._lock:
            event = self._resources.events[event_id]
        return self.deliver(event)

    def complete_authentication(self, intent_id: str, *, succeed: bool = True) -> Delivery:
        """The customer passes (or fails) 3-D Secure; the resulting event is delivered now."""
        with self._lock:
            event = self._resources.complete_authentication(intent_id, succeed)
        return self.deliver(event)

    # -- the API ----------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: str
    ) -> tuple[Answer, list[JSON]]:
        """The answer to one API request, and the events it caused (to send after it)."""
        url = urlsplit(target)
        key = headers.get("idempotency-key") if method == "POST" else None
        new_events: list[JSON] = []
        with self._lock:
            fault = next((f for f in self.faults if url.path.startswith(f.path)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            params: JSON = {}
            if fault is not None and fault.kind == "error":
                error = ApiError(fault.status, "api_error", "Something went wrong (fake outage).")
                status, body, replayed = fault.status, error.body, False
            elif headers.get("authorization") != f"Bearer {self.api_key}":
                error = ApiError(401, "invalid_request_error", "Invalid API Key provided.")
                status, body, replayed = 401, error.body, False
            else:
                try:
                    params = parse_form(raw if method == "POST" else url.query)
                    status, body, replayed = self._resources.request(
                        method, url.path, params, key, new_events
                    )
                except ApiError as error:
                    status, body, replayed = error.status, error.body, False
            self.calls.append(ApiCall(method, url.path, key, params, status, replayed))
        if fault is not None and fault.kind == "drop":
            return None, new_events  # the work happened; only its answer is lost
        return (status, body, replayed), new_events

    def _send_later(self, events: list[JSON]) -> None:
        if not (self.auto_events and self.webhook_url and events):
            return

        def run() -> None:
            for event in events:
                for attempt in range(self.delivery_attempts):
                    delivery = self.deliver(event)
                    if delivery.status is not None and delivery.status < 300:
                        break
                    time.sleep(0.2 * (attempt + 1))

        thread = threading.Thread(target=run, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length).decode()
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer, events = fake.handle(method, self.path, headers, raw)
            if answer is None:
                self.close_connection = True
                fake._send_later(events)
                return
            status, body, replayed = answer
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", new_id("req"))
            if replayed:
                self.send_header("Idempotent-Replayed", "true")
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            # Like Stripe, events go out once the answer that caused them has been sent.
            fake._send_later(events)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running_fake_stripe(webhook_url: str | None = None) -> Iterator[FakeStripe]:
    fake = FakeStripe(webhook_url=webhook_url).start()
    try:
        yield fake
    finally:
        fake.stop()
