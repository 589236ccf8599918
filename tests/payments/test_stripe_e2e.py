"""End to end with Stripe: a real Kassa server process (with its job worker) configured for
Stripe, the official SDK talking to the fake Stripe over HTTP, and signed webhooks coming
back to Kassa's endpoint. Checks that a checkout is charged once and paid once whatever is
redelivered, reordered, forged or retried."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import Settings
from kassa.kit.db import create_engine, create_sessionmaker
from kassa.models import Customer, Payment, ProcessorEvent
from tests.conftest import separate_database
from tests.support.fake_stripe import (
    TEST_SECRET_KEY,
    TEST_WEBHOOK_SECRET,
    FakeStripe,
    running_fake_stripe,
)
from tests.support.live_server import LiveKassa, create_organization, start_kassa

pytestmark = [pytest.mark.slow]

JSON = dict[str, Any]
WEBHOOK_PATH = "/v1/integrations/stripe/webhook"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as server:
        yield server


@pytest.fixture(scope="module")
def kassa(database_url: str, fake: FakeStripe) -> Iterator[LiveKassa]:
    with separate_database(database_url, "stripe") as own_url:
        yield from _serve(own_url, fake)


def _serve(database_url: str, fake: FakeStripe) -> Iterator[LiveKassa]:
    env = {
        "KASSA_PAYMENT_PROCESSOR": "stripe",
        "KASSA_STRIPE_SECRET_KEY": TEST_SECRET_KEY,
        "KASSA_STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
        "KASSA_STRIPE_API_BASE": fake.url,
        # The fake sends events at once, often before the confirm has committed: the worker
        # then retries the settlement, and polls for due retries every 1.5 s instead of 15 s.
        "KASSA_JOB_HEARTBEAT_TIMEOUT_SECONDS": "3",
    }
    server = start_kassa(database_url, env=env, worker=True)
    fake.webhook_url = server.base_url + WEBHOOK_PATH
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="module")
async def sessionmaker(kassa: LiveKassa) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the server's own database (overrides the shared one for this module)."""
    engine = create_engine(kassa.database_url, Settings(secret_key="s" * 40))
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest_asyncio.fixture(scope="module")
async def api(kassa: LiveKassa) -> AsyncIterator[httpx.AsyncClient]:
    credentials = create_organization(kassa.database_url, "Stripe Co")
    headers = {"Authorization": f"Bearer {credentials.token}"}
    async with httpx.AsyncClient(base_url=kassa.base_url, headers=headers, timeout=30) as http:
        yield http


async def new_checkout(api: httpx.AsyncClient) -> JSON:
    product = await api.post(
        "/v1/products/",
        json={"name": "Pro", "prices": [{"amount_type": "fixed", "price_amount": 2500}]},
    )
    assert product.status_code == 201, product.text
    checkout = await api.post("/v1/checkouts/", json={"product_id": product.json()["id"]})
    assert checkout.status_code == 201, checkout.text
    body: JSON = checkout.json()
    return body


async def confirm(api: httpx.AsyncClient, checkout: JSON, token: str, email: str) -> httpx.Response:
    """The customer's browser confirming (no access token)."""
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as browser:
        return await browser.post(
            f"/v1/checkouts/client/{checkout['client_secret']}/confirm",
            json={
                "customer_email": email,
                "customer_billing_address": {"country": "NL"},
                "confirmation_token_id": token,
            },
        )


def email() -> str:
    return f"buyer-{uuid.uuid4().hex[:8]}@example.com"


async def orders(api: httpx.AsyncClient, checkout: JSON) -> list[JSON]:
    response = await api.get("/v1/orders/", params={"checkout_id": checkout["id"]})
    assert response.status_code == 200, response.text
    items: list[JSON] = response.json()["items"]
    return items


async def paid_order(api: httpx.AsyncClient, checkout: JSON, within: float = 60.0) -> JSON:
    deadline = time.monotonic() + within
    while not (found := await orders(api, checkout)):
        assert time.monotonic() < deadline, "the order was not paid in time"
        await asyncio.sleep(0.1)
    [order] = found
    assert order["status"] == "paid" and order["paid"] is True
    return order


async def checkout_status(api: httpx.AsyncClient, checkout: JSON) -> str:
    return str((await api.get(f"/v1/checkouts/{checkout['id']}")).json()["status"])


def intents_of(fake: FakeStripe, checkout: JSON) -> list[JSON]:
    return [
        i for i in fake.intents.values() if i["metadata"].get("kassa_checkout_id") == checkout["id"]
    ]


async def payments_of(
    sessionmaker: async_sessionmaker[AsyncSession], checkout: JSON
) -> list[Payment]:
    async with sessionmaker() as session:
        statement = select(Payment).where(Payment.checkout_id == uuid.UUID(checkout["id"]))
        return list((await session.execute(statement.order_by(Payment.created_at))).scalars())


async def processed_event(
    sessionmaker: async_sessionmaker[AsyncSession], event_id: str, within: float = 30.0
) -> ProcessorEvent:
    deadline = time.monotonic() + within
    while True:
        async with sessionmaker() as session:
            event = await session.scalar(
                select(ProcessorEvent).where(
                    ProcessorEvent.processor == "stripe", ProcessorEvent.event_id == event_id
                )
            )
        if event is not None and event.processed_at is not None:
            return event
        assert time.monotonic() < deadline, f"event {event_id} was not processed in time"
        await asyncio.sleep(0.1)


async def stored_events(sessionmaker: async_sessionmaker[AsyncSession], event_id: str) -> int:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(ProcessorEvent.id).where(ProcessorEvent.event_id == event_id)
        )
        return len(list(rows))


async def test_paid_once_despite_redelivered_and_reordered_events(
    api: httpx.AsyncClient,
    fake: FakeStripe,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    checkout = await new_checkout(api)
    response = await confirm(api, checkout, "ctoken_visa", email())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "confirmed"
    order = await paid_order(api, checkout)
    [intent] = intents_of(fake, checkout)
    assert (intent["amount"], intent["currency"]) == (2500, "usd")

    [succeeded] = fake.events_for(intent["id"], "payment_intent.succeeded")
    fake.wait_deliveries()
    assert {d.status for d in fake.delivered() if d.event_id == succeeded["id"]} == {200}
    duplicate = fake.redeliver(succeeded["id"])
    assert (duplicate.status, duplicate.answer) == (200, '{"received":true,"duplicate":true}')

    late_failure = fake.event(intent["id"], "payment_intent.payment_failed")
    assert fake.deliver(late_failure).status == 200
    assert (await processed_event(sessionmaker, late_failure["id"])).outcome == "ignored"

    assert await orders(api, checkout) == [order]
    assert await checkout_status(api, checkout) == "succeeded"
    [payment] = await payments_of(sessionmaker, checkout)
    assert (payment.processor, payment.processor_id, payment.status) == (
        "stripe",
        intent["id"],
        "succeeded",
    )
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert len(intents_of(fake, checkout)) == 1


async def test_forged_webhooks_are_refused_and_authentication_completes(
    api: httpx.AsyncClient,
    fake: FakeStripe,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    checkout = await new_checkout(api)
    response = await confirm(api, checkout, "ctoken_authenticationRequired", email())
    assert response.status_code == 200, response.text
    [intent] = intents_of(fake, checkout)
    [payment] = await payments_of(sessionmaker, checkout)
    assert payment.status == "requires_action"
    assert payment.next_action_url == f"{fake.url}/authenticate/{intent['id']}"

    forged = fake.event(intent["id"], "payment_intent.succeeded")
    forged["data"]["object"].update(status="succeeded", amount_received=2500)
    body = httpx.Request("POST", "/", json=forged).content
    stale = int(time.time()) - 301
    for delivery in (
        fake.deliver(forged, secret="whsec_an_attackers_guess"),
        fake.deliver(forged, body=body.replace(b"2500", b"2501")),
        fake.deliver(forged, signature=None),
        fake.deliver(forged, timestamp=stale),
    ):
        assert delivery.status == 400, delivery
        assert '"InvalidSignature"' in delivery.answer
    assert await stored_events(sessionmaker, forged["id"]) == 0
    assert await orders(api, checkout) == []

    assert fake.complete_authentication(intent["id"]).status == 200
    await paid_order(api, checkout)
    assert len(intents_of(fake, checkout)) == 1


async def test_a_declined_card_creates_no_order(
    api: httpx.AsyncClient,
    fake: FakeStripe,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    checkout = await new_checkout(api)
    buyer = email()
    declined = await confirm(api, checkout, "ctoken_chargeDeclined", buyer)
    assert declined.status_code == 400, declined.text
    assert declined.json() == {"error": "PaymentError", "detail": "Your card was declined."}
    [intent] = intents_of(fake, checkout)
    [failed] = fake.events_for(intent["id"], "payment_intent.payment_failed")
    fake.wait_deliveries()
    assert (await processed_event(sessionmaker, failed["id"])).outcome == "ignored"
    assert await orders(api, checkout) == []
    assert await checkout_status(api, checkout) == "open"
    [payment] = await payments_of(sessionmaker, checkout)
    assert (payment.processor_id, payment.status) == (intent["id"], "failed")
    assert payment.decline_reason == "generic_decline"

    paid = await confirm(api, checkout, "ctoken_visa", buyer)  # another card, a new attempt
    assert paid.status_code == 200, paid.text
    await paid_order(api, checkout)
    assert len(intents_of(fake, checkout)) == 2


@pytest.mark.parametrize("retry_token", ["ctoken_visa", "ctoken_mastercard"])
async def test_a_confirm_retried_after_a_lost_answer_charges_once(
    api: httpx.AsyncClient,
    fake: FakeStripe,
    sessionmaker: async_sessionmaker[AsyncSession],
    retry_token: str,
) -> None:
    checkout = await new_checkout(api)
    buyer = email()
    fake.add_fault("drop", "/v1/payment_intents", times=3)  # the SDK's three tries all fail
    lost = await confirm(api, checkout, "ctoken_visa", buyer)
    assert lost.status_code == 400, lost.text
    assert lost.json()["error"] == "PaymentError"
    assert await payments_of(sessionmaker, checkout) == []  # nothing half-written
    assert await checkout_status(api, checkout) == "open"
    [intent] = intents_of(fake, checkout)  # yet Stripe charged, and says so by webhook
    assert intent["status"] == "succeeded"

    # The browser retries (with a new ConfirmationToken, when Stripe.js made one again).
    retried = await confirm(api, checkout, retry_token, buyer)
    assert retried.status_code == 200, retried.text
    await paid_order(api, checkout)
    assert [i["id"] for i in intents_of(fake, checkout)] == [intent["id"]]
    keys = {
        c.idempotency_key
        for c in fake.calls
        if c.path == "/v1/payment_intents"
        and c.method == "POST"
        and c.params.get("metadata", {}).get("kassa_checkout_id") == checkout["id"]
    }
    assert keys == {f"kassa-checkout-{checkout['id']}-0"}
    [payment] = await payments_of(sessionmaker, checkout)
    assert (payment.processor_id, payment.status) == (intent["id"], "succeeded")


async def test_an_outage_writes_nothing_and_a_retry_pays(
    api: httpx.AsyncClient,
    fake: FakeStripe,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    checkout = await new_checkout(api)
    buyer = email()
    fake.add_fault("error", "/v1/customers", status=500, times=3)
    failed = await confirm(api, checkout, "ctoken_visa", buyer)
    assert failed.status_code == 400, failed.text
    assert failed.json()["error"] == "PaymentError"
    assert await payments_of(sessionmaker, checkout) == []
    async with sessionmaker() as session:
        customer = await session.scalar(select(Customer.id).where(Customer.email == buyer))
    assert customer is None
    state = (await api.get(f"/v1/checkouts/{checkout['id']}")).json()
    assert (state["status"], state["customer_email"]) == ("open", None)
    assert intents_of(fake, checkout) == []

    retried = await confirm(api, checkout, "ctoken_visa", buyer)
    assert retried.status_code == 200, retried.text
    await paid_order(api, checkout)
    assert len(intents_of(fake, checkout)) == 1
