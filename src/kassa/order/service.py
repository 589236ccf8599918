"""Orders: created from a checkout when it is paid (or free), read and lightly updated."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.checkout.repository import CheckoutRepository
from kassa.kit import sql
from kassa.kit.ids import new_id
from kassa.kit.pagination import PaginationParams
from kassa.models import Checkout, Customer, Discount, Order, OrderItem, Payment, Product
from kassa.order.repository import OrderRepository
from kassa.order.schemas import Order as OrderSchema
from kassa.order.schemas import OrderListFilters, OrderUpdate
from kassa.order.serialize import order_schema
from kassa.webhook import service as webhook_service
from kassa.webhook.schemas import WebhookEventType
from kassa.webhook.service import Emission


def emissions(order: Order, *event_types: WebhookEventType) -> list[Emission]:
    """The order's webhook events; the order is serialized at most once, and only if an
    endpoint listens. Emit them after the order is flushed."""
    schema: OrderSchema | None = None

    async def data() -> OrderSchema:
        nonlocal schema
        if schema is None:
            schema = order_schema(order)
        return schema

    return [
        Emission(order.organization_id, type_, f"order:{order.id}", data) for type_ in event_types
    ]


async def emit(
    session: AsyncSession, event_type: WebhookEventType, order: Order, *more: WebhookEventType
) -> None:
    await session.flush()
    await webhook_service.emit_many(session, emissions(order, event_type, *more))


def build_paid_order(
    checkout: Checkout, product: Product, customer: Customer, discount: Discount | None
) -> Order:
    """The order for a paid (or free) checkout: a value to ``insert_orders``, with its customer,
    product, discount and items attached for serializing. The unique ``checkout_id`` makes a
    second one impossible; callers hold the checkout's row lock, so they never race to it."""
    order_id = new_id()
    return sql.value(
        Order,
        id=order_id,
        customer=customer,
        product=product,
        discount=discount,
        organization_id=checkout.organization_id,
        status="paid",
        billing_reason="purchase",
        currency=checkout.currency,
        subtotal_amount=checkout.amount,
        discount_amount=checkout.discount_amount,
        net_amount=checkout.net_amount,
        tax_amount=checkout.tax_amount or 0,
        total_amount=checkout.total_amount,
        billing_name=checkout.customer_billing_name or checkout.customer_name,
        billing_address=checkout.customer_billing_address,
        customer_id=customer.id,
        product_id=checkout.product_id,
        product_price_id=checkout.product_price_id,
        discount_id=checkout.discount_id,
        checkout_id=checkout.id,
        seats=checkout.seats,
        user_metadata=dict(checkout.user_metadata),
        custom_field_data=dict(checkout.custom_field_data),
        items=[
            sql.value(
                OrderItem,
                order_id=order_id,
                label=product.name,
                amount=checkout.amount,
                tax_amount=checkout.tax_amount or 0,
                product_price_id=checkout.product_price_id,
            )
        ],
    )


async def insert_orders(
    session: AsyncSession, orders: Sequence[Order], writes: sql.Writes | None = None
) -> None:
    """Insert built orders and their items in one statement, or with ``writes``."""
    async with sql.writing(session, writes) as together:
        together.insert(orders)
        together.insert([item for order in orders for item in order.items])


async def create_paid_order(
    session: AsyncSession, checkout: Checkout, *, payment: Payment | None = None
) -> Order:
    """Build, insert and announce (``order.created``, ``order.paid``) a checkout's order;
    ``payment`` (an ORM row) is pointed at it."""
    assert checkout.customer_id is not None
    product = (
        await CheckoutRepository(session).products(checkout.organization_id, [checkout.product_id])
    )[0]
    customer = await session.get(Customer, checkout.customer_id)
    assert customer is not None
    discount = await session.get(Discount, checkout.discount_id) if checkout.discount_id else None
    order = build_paid_order(checkout, product, customer, discount)
    await insert_orders(session, [order])
    if payment is not None:
        payment.order_id = order.id
    await emit(session, WebhookEventType.order_created, order, WebhookEventType.order_paid)
    return order


async def list_orders(
    session: AsyncSession,
    organization_id: uuid.UUID,
    filters: OrderListFilters,
    metadata: dict[str, list[str]],
    sorting: Sequence[str],
    params: PaginationParams,
) -> tuple[Sequence[Order], int]:
    repository = OrderRepository(session)
    statement = repository.filtered(organization_id, filters, sorting, metadata)
    return await repository.paginate(statement, params)


async def get_order(
    session: AsyncSession, organization_id: uuid.UUID, order_id: uuid.UUID, *, lock: bool = False
) -> Order:
    return await OrderRepository(session).get_or_404(organization_id, order_id, for_update=lock)


async def update_order(session: AsyncSession, order: Order, body: OrderUpdate) -> Order:
    fields = body.model_fields_set
    if "billing_name" in fields:
        order.billing_name = body.billing_name
    if "billing_address" in fields:
        order.billing_address = (
            body.billing_address.model_dump() if body.billing_address is not None else None
        )
    await emit(session, WebhookEventType.order_updated, order)
    return order
