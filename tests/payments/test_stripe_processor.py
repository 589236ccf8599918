"""``StripeProcessor`` against the fake Stripe through the official SDK: outcomes, idempotent
retries (also with a new ConfirmationToken), declines, authentication, outages, refunds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.config import Settings
from kassa.payments.processor import PaymentError, PaymentRequest
from kassa.payments.registry import processor_for
from kassa.payments.stripe import (
    IDEMPOTENCY_METADATA_KEY,
    ProcessorUnavailable,
    StripeProcessor,
    close_clients,
    fallback_intent_id,
)
from tests.support.fake_stripe import TEST_SECRET_KEY, FakeStripe, running_fake_stripe

NO_SESSION = cast(AsyncSession, None)  # only the sandbox uses the caller's session


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with running_fake_stripe() as server:
        yield server


@pytest_asyncio.fixture
async def processor(fake: FakeStripe) -> AsyncIterator[StripeProcessor]:
    settings = Settings(
        payment_processor="stripe", stripe_secret_key=TEST_SECRET_KEY, stripe_api_base=fake.url
    )
    built = processor_for("stripe", settings)
    assert isinstance(built, StripeProcessor)
    yield built
    await close_clients()


def request(token: str = "ctoken_visa", **changes: Any) -> PaymentRequest:
    values: dict[str, Any] = {
        "idempotency_key": f"kassa-checkout-{uuid.uuid4()}-0",
        "amount": 2500,
        "currency": "EUR",
        "confirmation_token": token,
        "customer_id": uuid.UUID("00000000-0000-4000-8000-000000000001"),
        "customer_email": "buyer@example.com",
        "customer_name": "Ada Buyer",
        "return_url": "https://kassa.test/checkout/secret",
        "metadata": {"kassa_checkout_id": "c-1", "kassa_organization_id": "o-1"},
    }
    return PaymentRequest(**(values | changes))


async def test_a_card_payment_is_processing_until_its_event(
    processor: StripeProcessor, fake: FakeStripe
) -> None:
    sent = request()
    attempt = await processor.create_payment(NO_SESSION, sent)
    assert attempt.status == "processing"
    assert (attempt.card_brand, attempt.card_last4) == ("visa", "4242")
    intent = fake.intents[attempt.processor_id]
    assert (intent["amount"], intent["currency"], intent["status"]) == (2500, "eur", "succeeded")
    assert intent["metadata"] == sent.metadata | {IDEMPOTENCY_METADATA_KEY: sent.idempotency_key}
    [customer] = fake.customers.values()
    assert customer["id"] == intent["customer"]
    assert customer["metadata"] == {
        "kassa_customer_id": str(sent.customer_id),
        "kassa_organization_id": "o-1",
    }
    keys = [call.idempotency_key for call in fake.calls]
    assert keys[1] == sent.idempotency_key and str(keys[0]).startswith("kassa-customer-")


async def test_a_retry_is_the_same_payment(processor: StripeProcessor, fake: FakeStripe) -> None:
    sent = request()
    first = await processor.create_payment(NO_SESSION, sent)
    again = await processor.create_payment(NO_SESSION, sent)
    assert again == first
    assert fake.intents_created == 1 and len(fake.customers) == 1


async def test_a_retry_with_a_new_token_finds_the_first_payment(
    processor: StripeProcessor, fake: FakeStripe
) -> None:
    sent = request()
    first = await processor.create_payment(NO_SESSION, sent)
    retried = await processor.create_payment(
        NO_SESSION, request("ctoken_mastercard", idempotency_key=sent.idempotency_key)
    )
    assert retried == first
    assert fake.intents_created == 1


async def test_the_same_customer_is_created_once_per_details(
    processor: StripeProcessor, fake: FakeStripe
) -> None:
    await processor.create_payment(NO_SESSION, request())
    await processor.create_payment(NO_SESSION, request())
    assert len(fake.customers) == 1
    await processor.create_payment(NO_SESSION, request(customer_email="new@example.com"))
    assert len(fake.customers) == 2  # changed details: never an idempotency error


@pytest.mark.parametrize(
    ("token", "code", "message"),
    [
        ("ctoken_chargeDeclined", "generic_decline", "Your card was declined."),
        ("ctoken_insufficientFunds", "insufficient_funds", "Your card has insufficient funds."),
    ],
)
async def test_declines(
    processor: StripeProcessor, fake: FakeStripe, token: str, code: str, message: str
) -> None:
    sent = request(token)
    attempt = await processor.create_payment(NO_SESSION, sent)
    assert (attempt.status, attempt.decline_code, attempt.decline_message) == (
        "declined",
        code,
        message,
    )
    assert fake.intents[attempt.processor_id]["status"] == "requires_payment_method"
    assert attempt.card_brand == "visa"
    assert await processor.create_payment(NO_SESSION, sent) == attempt  # replayed
    assert fake.intents_created == 1


async def test_an_unknown_token_is_declined_without_an_intent(
    processor: StripeProcessor, fake: FakeStripe
) -> None:
    sent = request("ctoken_doesNotExist")
    attempt = await processor.create_payment(NO_SESSION, sent)
    assert attempt.status == "declined"
    assert attempt.decline_code == "resource_missing"
    assert attempt.processor_id == fallback_intent_id(sent.idempotency_key)
    assert fake.intents_created == 0


async def test_authentication_required(processor: StripeProcessor, fake: FakeStripe) -> None:
    attempt = await processor.create_payment(NO_SESSION, request("ctoken_authenticationRequired"))
    assert attempt.status == "requires_action"
    assert attempt.next_action_url == f"{fake.url}/authenticate/{attempt.processor_id}"


async def test_an_answer_lost_after_the_charge_is_replayed(
    processor: StripeProcessor, fake: FakeStripe
) -> None:
    fake.add_fault("drop", "/v1/payment_intents", times=2)  # the SDK's third try gets through
    attempt = await processor.create_payment(NO_SESSION, request())
    assert attempt.status == "processing"
    assert fake.intents_created == 1
    assert [c.replayed for c in fake.calls if c.path == "/v1/payment_intents"] == [
        False,
        True,
        True,
    ]


@pytest.mark.parametrize("path", ["/v1/customers", "/v1/payment_intents"])
async def test_an_outage_raises_payment_error(
    processor: StripeProcessor, fake: FakeStripe, path: str
) -> None:
    fake.add_fault("error", path, status=500, times=3)
    with pytest.raises(ProcessorUnavailable) as caught:
        await processor.create_payment(NO_SESSION, request())
    assert isinstance(caught.value, PaymentError)
    assert (caught.value.status_code, caught.value.error, caught.value.commit) == (
        400,
        "PaymentError",
        False,
    )
    assert fake.intents_created == 0


async def test_a_wrong_key_or_no_key_raises_payment_error(fake: FakeStripe) -> None:
    wrong = StripeProcessor(Settings(stripe_secret_key="sk_test_wrong", stripe_api_base=fake.url))
    missing = StripeProcessor(Settings(stripe_api_base=fake.url))
    try:
        for processor in (wrong, missing):
            with pytest.raises(ProcessorUnavailable):
                await processor.create_payment(NO_SESSION, request())
    finally:
        await close_clients()
    assert fake.customers == {}


async def test_refunds(processor: StripeProcessor, fake: FakeStripe) -> None:
    attempt = await processor.create_payment(NO_SESSION, request())
    refund = await processor.create_refund(attempt.processor_id, 1000, "kassa-refund-1")
    again = await processor.create_refund(attempt.processor_id, 1000, "kassa-refund-1")
    assert again == refund
    assert (refund.amount, refund.currency, refund.status) == (1000, "eur", "succeeded")
    assert len(fake.refunds) == 1
    with pytest.raises(PaymentError):
        await processor.create_refund(attempt.processor_id, 5000, "kassa-refund-2")


async def test_a_rolled_back_customer_finds_its_stripe_customer_again(
    processor: StripeProcessor, fake: FakeStripe
) -> None:
    sent = request()
    first = await processor.create_payment(NO_SESSION, sent)
    # The confirm rolled back: its retry has a new Kassa customer row, same person and key.
    retry = request(
        "ctoken_mastercard", idempotency_key=sent.idempotency_key, customer_id=uuid.uuid4()
    )
    assert await processor.create_payment(NO_SESSION, retry) == first
    [customer] = fake.customers.values()
    assert customer["metadata"]["kassa_customer_id"] == str(retry.customer_id)
    assert fake.intents_created == 1
