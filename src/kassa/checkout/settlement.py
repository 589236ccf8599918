"""Acting on a processor's settlement: the payment succeeds (the order is created, paid) or
fails. Runs in the inbox job's transaction; safe against duplicated and reordered events.

Locks are taken payment first, then checkout, the same order as nowhere else takes both, and
the unique ``orders.checkout_id`` makes a second order impossible even if that changed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.checkout import serialize
from kassa.checkout.repository import CheckoutRepository
from kassa.discount.service import release as release_discount
from kassa.models import Discount, Payment
from kassa.order.repository import OrderRepository
from kassa.order.service import create_paid_order
from kassa.payments.processor import PaymentSettlement
from kassa.webhook.schemas import WebhookEventType


class UnknownPayment(Exception):
    """The event names a payment not (yet) recorded: its confirm may still be committing."""


async def settle(session: AsyncSession, processor: str, settlement: PaymentSettlement) -> str:
    statement = (
        select(Payment)
        .where(Payment.processor == processor, Payment.processor_id == settlement.processor_id)
        .with_for_update()
    )
    payment = (await session.execute(statement)).scalar_one_or_none()
    if payment is None:
        raise UnknownPayment(settlement.processor_id)
    if settlement.status == "succeeded":
        return await _succeeded(session, payment, settlement)
    return await _failed(session, payment, settlement)


async def _succeeded(session: AsyncSession, payment: Payment, settlement: PaymentSettlement) -> str:
    if payment.status == "succeeded":
        return "duplicate"
    if settlement.amount != payment.amount or settlement.currency != payment.currency:
        payment.status = "failed"
        payment.decline_reason = "amount_mismatch"
        return "amount_mismatch"
    payment.status = "succeeded"
    if payment.checkout_id is None:
        return "payment_succeeded"
    checkout = await CheckoutRepository(session).lock(payment.checkout_id)
    assert checkout is not None
    order = await OrderRepository(session).by_checkout(checkout.id)
    if order is None:
        await create_paid_order(session, checkout, payment=payment)
    else:
        payment.order_id = order.id
    if checkout.status != "succeeded":
        checkout.status = "succeeded"
        checkout.payment_error = None
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
        await serialize.emit(session, WebhookEventType.checkout_updated, checkout)
    return "payment_failed"
