"""Acting on a processor's settlement: the payment succeeds (the order is created, paid) or
fails. Runs in the inbox job's transaction; safe against duplicated and reordered events.

Locks are taken payment first, then checkout, the same order as nowhere else takes both, and
the unique ``orders.checkout_id`` makes a second order impossible even if that changed.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.checkout import serialize
from kassa.checkout.customers import find_or_create_customer
from kassa.checkout.repository import CheckoutRepository
from kassa.discount.service import release as release_discount
from kassa.kit.ids import new_id
from kassa.models import Checkout, Discount, OrganizationNotice, Payment
from kassa.models.payment import LIVE_PAYMENT_STATUSES
from kassa.order.repository import OrderRepository
from kassa.order.service import create_paid_order
from kassa.payments.processor import PaymentSettlement
from kassa.webhook.schemas import WebhookEventType

log = structlog.get_logger(__name__)


class UnknownPayment(Exception):
    """The event names a payment not (yet) recorded: its confirm may still be committing."""


async def _payment(
    session: AsyncSession, processor: str, settlement: PaymentSettlement
) -> Payment | None:
    statement = (
        select(Payment)
        .where(Payment.processor == processor, Payment.processor_id == settlement.processor_id)
        .with_for_update()
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def settle(session: AsyncSession, processor: str, settlement: PaymentSettlement) -> str:
    payment = await _payment(session, processor, settlement)
    checkout_id = _uuid(settlement.checkout_id)
    if payment is None and checkout_id is not None:
        # The confirm that started it may still be committing: its checkout lock orders us
        # after it. If the payment is still unknown then, that confirm was lost after the
        # processor took the money: adopt the payment rather than lose it.
        checkout = await CheckoutRepository(session).lock(checkout_id)
        payment = await _payment(session, processor, settlement)
        if payment is None and checkout is not None:
            if settlement.status == "failed":
                return "ignored"
            payment = await _adopt(session, processor, settlement, checkout)
            if payment.status == "needs_review":
                return "duplicate_charge"
    if payment is None:
        raise UnknownPayment(settlement.processor_id)
    if settlement.status == "succeeded":
        return await _succeeded(session, payment, settlement)
    return await _failed(session, payment, settlement)


async def _succeeded(session: AsyncSession, payment: Payment, settlement: PaymentSettlement) -> str:
    if payment.status == "succeeded":
        return "duplicate"
    if settlement.amount != payment.amount or settlement.currency != payment.currency:
        await _needs_review(session, payment, "amount_mismatch", settlement)
        return "amount_mismatch"
    payment.status = "succeeded"
    if payment.checkout_id is None:
        return "payment_succeeded"
    checkout = await CheckoutRepository(session).lock(payment.checkout_id)
    assert checkout is not None
    order = await OrderRepository(session).by_checkout(checkout.id)
    if order is not None and order.id != payment.order_id and checkout.status == "succeeded":
        # Another payment already paid this checkout: this one is a second charge.
        await _needs_review(session, payment, "duplicate_charge", settlement)
        return "duplicate_charge"
    if order is None:
        await create_paid_order(session, checkout, payment=payment)
    else:
        payment.order_id = order.id
    if checkout.status != "succeeded":
        checkout.status = "succeeded"
        checkout.payment_error = None
        await CheckoutRepository(session).save(checkout)
        await serialize.emit(session, WebhookEventType.checkout_updated, checkout)
    return "order_paid"


async def _failed(session: AsyncSession, payment: Payment, settlement: PaymentSettlement) -> str:
    if payment.status in ("succeeded", "failed"):
        return "ignored"  # a late or duplicated failure never undoes a settled payment
    payment.status = "failed"
    payment.decline_reason = settlement.decline_code
    payment.decline_message = settlement.decline_message
    if payment.checkout_id is None:
        return "payment_failed"
    checkout = await CheckoutRepository(session).lock(payment.checkout_id)
    assert checkout is not None
    if checkout.status == "confirmed":
        checkout.status = "failed"
        checkout.payment_error = settlement.decline_message or "The payment failed."
        if checkout.discount_id is not None:
            discount = await session.get(Discount, checkout.discount_id)
            if discount is not None:
                await release_discount(session, discount, checkout_id=checkout.id)
        await CheckoutRepository(session).save(checkout)
        await serialize.emit(session, WebhookEventType.checkout_updated, checkout)
    return "payment_failed"


def _uuid(value: str | None) -> uuid.UUID | None:
    """The checkout id a processor echoed back from Kassa's metadata (garbage is no id)."""
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def _adopt(
    session: AsyncSession, processor: str, settlement: PaymentSettlement, checkout: Checkout
) -> Payment:
    """Record a payment the processor took for ``checkout`` whose confirm never committed."""
    if checkout.customer_id is None:
        checkout.customer_id = (await find_or_create_customer(session, checkout)).id
        await CheckoutRepository(session).save(checkout)
    payment = Payment(
        id=new_id(),
        organization_id=checkout.organization_id,
        checkout_id=checkout.id,
        customer_id=checkout.customer_id,
        processor=processor,
        processor_id=settlement.processor_id,
        status="pending",
        amount=checkout.total_amount,
        currency=checkout.currency,
    )
    if checkout.status == "succeeded" or await _has_live_payment(session, checkout.id):
        # Paid, or being paid, by another payment (at most one can be live, see ``Payment``):
        # this one is a second charge, kept for review rather than refused by the index.
        await _needs_review(session, payment, "duplicate_charge", settlement)
    session.add(payment)
    log.warning(
        "payment_adopted",
        checkout_id=str(checkout.id),
        processor=processor,
        processor_id=settlement.processor_id,
    )
    return payment


async def _has_live_payment(session: AsyncSession, checkout_id: uuid.UUID) -> bool:
    statement = select(Payment.id).where(
        Payment.checkout_id == checkout_id, Payment.status.in_(LIVE_PAYMENT_STATUSES)
    )
    return (await session.execute(statement.limit(1))).first() is not None


async def _needs_review(
    session: AsyncSession, payment: Payment, reason: str, settlement: PaymentSettlement
) -> None:
    """Money was taken but cannot pay for an order: keep it visible until someone refunds it."""
    payment.status = "needs_review"
    payment.decline_reason = reason
    session.add(
        OrganizationNotice(
            organization_id=payment.organization_id,
            type="payment.needs_review",
            message=f"Payment {payment.processor_id} ({settlement.amount} "
            f"{settlement.currency.upper()}) needs a refund or review: {reason}.",
            subject_id=payment.id,
        )
    )
    log.error(
        "payment_needs_review",
        payment_id=str(payment.id),
        processor_id=payment.processor_id,
        reason=reason,
    )
