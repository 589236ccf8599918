"""Settling many inbox events in one transaction: the common case, with set-based statements.

Every event of the batch that reports the success of a known checkout payment still in flight,
for the amount Kassa asked, whose checkout has no order yet, is settled here: the orders built,
payments and checkouts updated and the webhooks recorded with a few statements for the whole
batch, instead of a dozen per event: the reads that lock, then one statement for every write
and the webhooks' delivery jobs (``kit.sql.Writes``). Everything else (failures, payments not
yet known, already settled or of the wrong amount, a checkout that already has an order, a
second event for the same payment or checkout in one batch) is handed back to be settled one
event at a time by ``settlement.settle``, which knows every case and retries.

Locks are taken in the same order as there: payments, then checkouts, each set in id order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.checkout import serialize
from kassa.checkout.repository import CheckoutRepository
from kassa.kit import sql
from kassa.kit.clock import utc_now
from kassa.models import Checkout, Customer, Discount, Order, Payment, ProcessorEvent, Product
from kassa.models.payment import IN_FLIGHT_PAYMENT_STATUSES
from kassa.order import service as order_service
from kassa.payments.events import settlement_of
from kassa.payments.processor import PaymentSettlement
from kassa.payments.repository import PaymentRepository, ProcessorEventRepository
from kassa.webhook import service as webhook_service
from kassa.webhook.schemas import WebhookEventType

log = structlog.get_logger(__name__)


@dataclass
class _Sale:
    event: ProcessorEvent
    settlement: PaymentSettlement
    payment: Payment | None = None
    checkout: Checkout | None = None
    customer: Customer | None = None


async def settle_many(session: AsyncSession, inbox_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Settle what can be settled together of the stored unprocessed events ``inbox_ids``;
    the ids left for one-by-one settlement."""
    await sql.plan_generically(session)
    events = await ProcessorEventRepository(session).lock_unprocessed(inbox_ids)
    writes = sql.Writes()
    left = await settle_events(session, events, writes)
    await writes.run(session)
    return left


async def settle_events(
    session: AsyncSession, locked: Sequence[ProcessorEvent], writes: sql.Writes
) -> list[uuid.UUID]:
    """Settle what can be settled together of ``locked`` (unprocessed events this transaction
    locked), with ``writes``; the ids left for one-by-one settlement.

    Plain SQL throughout (``kit.sql``): rows are values, written back by set-based statements.
    """
    now = utc_now()
    sales: dict[tuple[str, str], _Sale] = {}
    left: list[uuid.UUID] = []
    done: list[ProcessorEvent] = []
    for event in locked:
        settlement = settlement_of(event.type, event.payload)
        if settlement is None:
            done.append(_processed(event, "ignored"))
        elif (
            settlement.status != "succeeded" or (event.processor, settlement.processor_id) in sales
        ):
            left.append(event.id)
        else:
            sales[(event.processor, settlement.processor_id)] = _Sale(event, settlement)
    if sales:
        settled, unsettled = await _settle_sales(session, sales, now, writes)
        done += settled
        left += unsettled
    await ProcessorEventRepository(session).mark_processed(done, now, writes)
    return left


async def _settle_sales(
    session: AsyncSession, sales: dict[tuple[str, str], _Sale], now: datetime, writes: sql.Writes
) -> tuple[list[ProcessorEvent], list[uuid.UUID]]:
    """The events settled here, and those left for one-by-one settlement."""
    for payment in await PaymentRepository(session).lock_by_processor_ids(list(sales)):
        sales[(payment.processor, payment.processor_id)].payment = payment
    left: list[uuid.UUID] = []
    ready: dict[uuid.UUID, _Sale] = {}
    for sale in sales.values():
        checkout_id = _plain_success(sale)
        # A second sale of one checkout in the batch is settled alone (a second charge).
        if checkout_id is None or checkout_id in ready:
            left.append(sale.event.id)
        else:
            ready[checkout_id] = sale
    if not ready:
        return [], left
    paying = await CheckoutRepository(session).lock_paying(list(ready))
    for checkout_id, sale in list(ready.items()):
        found = paying.get(checkout_id)
        if found is None or found.has_order or found.customer is None:
            left.append(sale.event.id)
            del ready[checkout_id]
        else:
            sale.checkout, sale.customer = found.checkout, found.customer
    if not ready:
        return [], left
    await _create_orders(session, list(ready.values()), now, writes)
    return [_processed(sale.event, "order_paid") for sale in ready.values()], left


def _plain_success(sale: _Sale) -> uuid.UUID | None:
    """The checkout a known payment in flight pays, if the processor took what Kassa asked."""
    payment, settlement = sale.payment, sale.settlement
    if (
        payment is None
        or payment.status not in IN_FLIGHT_PAYMENT_STATUSES
        or settlement.amount != payment.amount
        or settlement.currency != payment.currency
    ):
        return None
    return payment.checkout_id


async def _create_orders(
    session: AsyncSession, sales: list[_Sale], now: datetime, writes: sql.Writes
) -> None:
    """Build the orders and record every change, the webhooks' delivery jobs included, in
    ``writes``."""
    checkouts = [sale.checkout for sale in sales if sale.checkout is not None]
    products = await _products(session, checkouts)
    discount_ids = [c.discount_id for c in checkouts if c.discount_id is not None]
    discounts = {}
    if discount_ids:  # rare: the ORM's, whose serializer follows their products
        rows = await session.execute(select(Discount).where(Discount.id.in_(discount_ids)))
        discounts = {d.id: d for d in rows.scalars()}
    emissions: list[webhook_service.Emission] = []
    orders: list[Order] = []
    paid: list[Checkout] = []
    for sale in sales:
        checkout, payment, customer = sale.checkout, sale.payment, sale.customer
        assert checkout is not None and payment is not None and customer is not None
        order = order_service.build_paid_order(
            checkout,
            products[checkout.product_id],
            customer,
            discounts.get(checkout.discount_id) if checkout.discount_id else None,
        )
        orders.append(order)
        payment.order_id = order.id
        emissions += order_service.emissions(
            order, WebhookEventType.order_created, WebhookEventType.order_paid
        )
        if checkout.status != "succeeded":
            paid.append(checkout)  # serialized below, once marked
            emissions.append(
                serialize.emission(session, WebhookEventType.checkout_updated, checkout)
            )
    await order_service.insert_orders(session, orders, writes)
    await PaymentRepository(session).mark_succeeded(
        [sale.payment for sale in sales if sale.payment is not None], now, writes
    )
    await CheckoutRepository(session).mark_succeeded(paid, now, writes)
    await webhook_service.emit_many(session, emissions, writes)


async def _products(
    session: AsyncSession, checkouts: Sequence[Checkout]
) -> dict[uuid.UUID, Product]:
    """The checkouts' products, per organization (whose catalogs the process may hold)."""
    repository = CheckoutRepository(session)
    products: dict[uuid.UUID, Product] = {}
    by_organization: dict[uuid.UUID, list[uuid.UUID]] = {}
    for checkout in checkouts:
        by_organization.setdefault(checkout.organization_id, []).append(checkout.product_id)
    for organization_id, ids in by_organization.items():
        products.update(await repository.preload_products(ids, organization_id))
    return products


def _processed(event: ProcessorEvent, outcome: str) -> ProcessorEvent:
    event.outcome = outcome
    log.info(
        "processor_event_processed",
        processor=event.processor,
        event_id=event.event_id,
        type=event.type,
        outcome=outcome,
        batched=True,
    )
    return event
