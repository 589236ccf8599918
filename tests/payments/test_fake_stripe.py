"""The fake Stripe itself, checked against the official SDK: its signatures verify with
``stripe.Webhook.construct_event``, and the SDK's requests and errors round-trip."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import pytest_asyncio
import stripe
from stripe.params import PaymentIntentCreateParams

from kassa.payments.stripe import build_client, new_http_client
from tests.support.fake_stripe import (
    TEST_SECRET_KEY,
    TEST_WEBHOOK_SECRET,
    FakeStripe,
    running_fake_stripe,
    stripe_signature,
)
from tests.support.fake_stripe_resources import parse_form

PAYLOAD = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"})


def test_signature_verifies_with_the_sdk() -> None:
    header = stripe_signature(PAYLOAD.encode(), TEST_WEBHOOK_SECRET)
    event = stripe.Webhook.construct_event(PAYLOAD, header, TEST_WEBHOOK_SECRET)  # type: ignore[no-untyped-call]
    assert (event.id, event.type) == ("evt_1", "payment_intent.succeeded")


@pytest.mark.parametrize(
    ("payload", "header"),
    [
        (PAYLOAD, stripe_signature(PAYLOAD.encode(), "whsec_wrong")),
        (
            PAYLOAD.replace("evt_1", "evt_2"),
            stripe_signature(PAYLOAD.encode(), TEST_WEBHOOK_SECRET),
        ),
        (PAYLOAD, stripe_signature(PAYLOAD.encode(), TEST_WEBHOOK_SECRET, int(time.time()) - 301)),
        (PAYLOAD, "t=1,v0=abc"),
        (PAYLOAD, "garbage"),
    ],
    ids=["wrong-secret", "tampered-body", "stale", "other-scheme", "garbage"],
)
def test_bad_signatures_do_not_verify(payload: str, header: str) -> None:
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, TEST_WEBHOOK_SECRET)  # type: ignore[no-untyped-call]


def test_form_decoding_matches_stripe_brackets() -> None:
    raw = (
        "amount=2500&metadata[kassa_checkout_id]=c1&metadata[b]=2"
        "&expand[0]=payment_method&confirm=true"
    )
    assert parse_form(raw) == {
        "amount": "2500",
        "metadata": {"kassa_checkout_id": "c1", "b": "2"},
        "expand": ["payment_method"],
        "confirm": "true",
    }


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as server:
        yield server


SdkFactory = Callable[..., stripe.StripeClient]


@pytest_asyncio.fixture
async def sdk(fake: FakeStripe) -> AsyncIterator[SdkFactory]:
    """The official SDK's client pointed at the fake (its connections closed afterwards)."""
    http_clients: list[stripe.HTTPClient] = []

    def make(key: str = TEST_SECRET_KEY) -> stripe.StripeClient:
        http_clients.append(new_http_client())
        return build_client(key, fake.url, http_clients[-1])

    yield make
    for http_client in http_clients:
        await http_client.close_async()  # type: ignore[no-untyped-call]


INTENT: PaymentIntentCreateParams = {
    "amount": 1200,
    "currency": "eur",
    "confirm": True,
    "confirmation_token": "ctoken_visa",
    "metadata": {"order": "42"},
    "return_url": "https://example.com/back",
}


async def test_the_sdk_creates_and_replays_an_intent(fake: FakeStripe, sdk: SdkFactory) -> None:
    client = sdk()
    first = await client.v1.payment_intents.create_async(INTENT, {"idempotency_key": "k1"})
    again = await client.v1.payment_intents.create_async(INTENT, {"idempotency_key": "k1"})
    assert first.status == "succeeded" and first.metadata == {"order": "42"}
    assert again.id == first.id
    assert fake.intents_created == 1
    # Only this key's calls: a port reused from an earlier test's fake may receive a stray
    # request from a client that test left behind.
    with_key = [c for c in fake.calls if c.idempotency_key == "k1"]
    assert [c.replayed for c in with_key] == [False, True], fake.calls
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.payment_intents.create_async(
            {**INTENT, "amount": 1300}, {"idempotency_key": "k1"}
        )
    fetched = await client.v1.payment_intents.retrieve_async(first.id)
    assert fetched.amount_received == 1200


async def test_a_decline_is_a_card_error_naming_the_intent(
    fake: FakeStripe, sdk: SdkFactory
) -> None:
    client = sdk()
    with pytest.raises(stripe.CardError) as caught:
        await client.v1.payment_intents.create_async(
            {**INTENT, "confirmation_token": "ctoken_insufficientFunds"}
        )
    error = caught.value.error
    assert error is not None and error.decline_code == "insufficient_funds"
    assert error.payment_intent is not None
    assert fake.intents[error.payment_intent.id]["status"] == "requires_payment_method"


async def test_wrong_key_and_faults(fake: FakeStripe, sdk: SdkFactory) -> None:
    with pytest.raises(stripe.AuthenticationError):
        await sdk("sk_test_wrong").v1.customers.create_async({"email": "a@b.c"})
    fake.add_fault("error", "/v1/customers", status=503, times=3)  # the SDK tries 3 times
    with pytest.raises(stripe.APIError):
        await sdk().v1.customers.create_async({"email": "a@b.c"})
    assert fake.customers == {}
    fake.add_fault("error", "/v1/customers", status=503)  # once: the SDK's retry succeeds
    created = await sdk().v1.customers.create_async({"email": "a@b.c"})
    assert list(fake.customers) == [created.id]


async def test_refunds(fake: FakeStripe, sdk: SdkFactory) -> None:
    client = sdk()
    intent = await client.v1.payment_intents.create_async(INTENT)
    refund = await client.v1.refunds.create_async({"payment_intent": intent.id, "amount": 200})
    assert (refund.amount, refund.status) == (200, "succeeded")
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async({"payment_intent": intent.id, "amount": 1001})
