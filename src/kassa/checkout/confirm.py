"""Confirming a checkout: the customer is found or created, the discount redeemed, and the
payment started, all at once.

Exactly once, two ways, by the processor:

- A processor that calls a remote service (Stripe): the checkout row is locked (``FOR UPDATE
  NOWAIT``) in the request's transaction and must be ``open``, so of many concurrent confirms
  one proceeds to the processor; the others get 409 ``CheckoutLocked`` at once (rather than
  queueing on the lock) or, once it committed, 403 ``NotOpenCheckout``.
- The sandbox, which calls nothing: the checkout is read without a lock, and every write of
  the confirm (the checkout, the payment, the sandbox's event and its job, the webhooks) is
  one statement whose update of the checkout requires the row version it read (optimistic:
  ``sql.update``'s ``read_version``). Of concurrent confirms the first statement wins; the
  others fail whole, are made once more, and get 403 ``NotOpenCheckout``. With nothing else
  written before, that statement commits itself: two round trips in all.

The processor's idempotency key is derived from the checkout id and its committed attempt
count, so a retried confirm (the first one's transaction lost) asks the processor for the
same payment again.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.checkout import serialize, service
from kassa.checkout.customers import find_or_create_customer
from kassa.checkout.errors import CheckoutLocked, PaymentError, PaymentUnavailable
from kassa.checkout.repository import CheckoutRepository
from kassa.checkout.schemas import CheckoutConfirm
from kassa.config import get_settings
from kassa.discount import service as discount_service
from kassa.kit import sql
from kassa.kit.db import transaction_cache
from kassa.kit.errors import KassaError, ValidationFailed
from kassa.models import Checkout, Discount, Payment
from kassa.order.service import create_paid_order
from kassa.payments.processor import PaymentAttempt, PaymentRequest
from kassa.payments.processor import PaymentError as PaymentProcessorError
from kassa.payments.registry import processor_for
from kassa.payments.repository import PaymentRepository
from kassa.webhook.schemas import WebhookEventType


class _LostRace(Exception):
    """An optimistic confirm's write failed on its own, so nothing of it was written."""


async def confirm_checkout(
    session: AsyncSession, client_secret: str, body: CheckoutConfirm
) -> Checkout:
    """Confirm, and pay unless the checkout is free. An optimistic confirm whose write lost a
    race (the checkout changed since it was read, or a concurrent checkout created the same
    new customer) wrote nothing: it is made once more from the start, and then finds what the
    winner wrote (the checkout no longer open: 403; the customer, to reuse)."""
    try:
        return await _confirm(session, client_secret, body, last_try=False)
    except _LostRace:
        return await _confirm(session, client_secret, body, last_try=True)


async def _confirm(
    session: AsyncSession, client_secret: str, body: CheckoutConfirm, *, last_try: bool
) -> Checkout:
    email = body.customer_email if "customer_email" in body.model_fields_set else None
    # Checkouts are made for the deployment's processor: whether it calls out decides, before
    # the checkout is read, whether to read it under the lock.
    configured = processor_for(get_settings().payment_processor)
    locked = configured.remote
    found = await service.for_confirm(session, client_secret, email, lock=locked)
    processor = (
        configured
        if found.checkout.processor == configured.name
        else processor_for(found.checkout.processor)
    )
    if processor.remote and not locked:
        # Made for a processor that calls out, before the deployment changed processors.
        found = await service.for_confirm(session, client_secret, email, lock=True)
        locked = True
    read_version = None if locked else found.version
    checkout, lookup = found.checkout, found.lookup
    service.ensure_open(checkout)
    await service.update_checkout(session, checkout, body, save=False)
    _check_complete(checkout)
    # The request's writes from here on go as one statement: a new customer (unless a
    # discount's redemption or a free order must reference it at once), the sandbox's event
    # and its job, the checkout, the payment, the webhooks.
    writes = sql.Writes()
    customer_with_writes = (
        read_version is not None and checkout.discount_id is None and checkout.total_amount > 0
    )
    customer = await find_or_create_customer(
        session, checkout, lookup, writes if customer_with_writes else None
    )
    checkout.customer_id = customer.id
    discount = await _redeem_discount(session, checkout)
    if checkout.total_amount == 0:
        await _succeed_without_payment(session, checkout, read_version)
        return checkout
    if body.confirmation_token_id is None:
        raise ValidationFailed.field(
            ("body", "confirmation_token_id"), "A payment method is required to pay."
        )
    try:
        attempt = await processor.create_payment(
            session,
            PaymentRequest(
                idempotency_key=f"kassa-checkout-{checkout.id}-{checkout.payment_attempts}",
                amount=checkout.total_amount,
                currency=checkout.currency,
                confirmation_token=body.confirmation_token_id,
                customer_id=customer.id,
                customer_email=customer.email or str(checkout.customer_email),
                customer_name=checkout.customer_name,
                return_url=checkout.url,
                metadata={
                    "kassa_checkout_id": str(checkout.id),
                    "kassa_organization_id": str(checkout.organization_id),
                },
            ),
            writes,
        )
    except PaymentProcessorError as error:
        if isinstance(error, KassaError):
            raise
        raise PaymentUnavailable(f"The payment could not be processed: {error}") from error
    checkout.payment_attempts += 1
    declined = attempt.status == "declined"
    decline_message = attempt.decline_message or "The payment was declined."
    if declined:
        checkout.payment_error = decline_message
    else:
        checkout.payment_error = None
        checkout.status = "confirmed"
    await CheckoutRepository(session).save(checkout, writes, read_version=read_version)
    _record_payment(
        session,
        checkout,
        attempt,
        status="failed"
        if declined
        else "requires_action"
        if attempt.status == "requires_action"
        else "pending",
        writes=writes,
    )
    if not declined:
        transaction_cache(session, serialize.NEXT_ACTIONS)[checkout.id] = attempt.next_action_url
        await serialize.emit(session, WebhookEventType.checkout_updated, checkout, writes)
    await _run(session, writes, optimistic=read_version is not None, last_try=last_try)
    if declined:
        if discount is not None:
            await discount_service.release(session, discount, checkout_id=checkout.id)
        raise PaymentError(decline_message)
    return checkout


async def _run(
    session: AsyncSession, writes: sql.Writes, *, optimistic: bool, last_try: bool
) -> None:
    """The confirm's one write statement: on its own when nothing was written before it, as
    the request's last write (``sql.run_last``). Optimistic, it fails whole when another
    request changed the checkout since it was read (``_LostRace`` when it ran on its own, to
    be tried again; else ``CheckoutLocked``, the transaction lost with it)."""
    if not optimistic:
        await writes.run(session)
        return
    try:
        await sql.run_last(session, writes)
    except (asyncpg.SerializationError, asyncpg.UniqueViolationError) as error:
        alone = not (await sql.reading_connection(session)).is_in_transaction()
        if alone and not last_try:
            raise _LostRace() from error
        if isinstance(error, asyncpg.UniqueViolationError):
            raise
        raise CheckoutLocked() from error


def _check_complete(checkout: Checkout) -> None:
    if not checkout.customer_email:
        raise ValidationFailed.field(("body", "customer_email"), "Your email is required.")
    address = checkout.customer_billing_address or {}
    needed = ["country"] if checkout.total_amount > 0 or checkout.require_billing_address else []
    if checkout.require_billing_address:
        needed += ["line1", "city", "postal_code"]
    for name in needed:
        if not address.get(name):
            raise ValidationFailed.field(
                ("body", "customer_billing_address", name), f"The billing {name} is required."
            )


async def _redeem_discount(session: AsyncSession, checkout: Checkout) -> Discount | None:
    if checkout.discount_id is None:
        return None
    discount = await session.get(Discount, checkout.discount_id)
    assert discount is not None
    await discount_service.redeem(
        session, discount, checkout_id=checkout.id, customer_id=checkout.customer_id
    )
    return discount


def _record_payment(
    session: AsyncSession,
    checkout: Checkout,
    attempt: PaymentAttempt,
    status: str,
    writes: sql.Writes,
) -> None:
    """The payment row for this attempt, written with ``writes``: inserted, or when the
    processor returned an intent Kassa already knows (a retried attempt), that row updated."""
    PaymentRepository(session).record_attempt(
        Payment(
            organization_id=checkout.organization_id,
            checkout_id=checkout.id,
            customer_id=checkout.customer_id,
            processor=checkout.processor,
            processor_id=attempt.processor_id,
            amount=checkout.total_amount,
            currency=checkout.currency,
            status=status,
            card_brand=attempt.card_brand,
            card_last4=attempt.card_last4,
            next_action_url=attempt.next_action_url,
            decline_reason=attempt.decline_code if status == "failed" else None,
            decline_message=attempt.decline_message if status == "failed" else None,
        ),
        writes,
    )


async def _succeed_without_payment(
    session: AsyncSession, checkout: Checkout, read_version: int | None
) -> None:
    """A free checkout's order, in the request's transaction: the checkout's write first, so
    an optimistic one that lost fails before anything else is done."""
    checkout.status = "succeeded"
    try:
        await CheckoutRepository(session).save(checkout, read_version=read_version)
    except asyncpg.SerializationError as error:
        raise CheckoutLocked() from error
    await create_paid_order(session, checkout)
    await serialize.emit(session, WebhookEventType.checkout_updated, checkout)
