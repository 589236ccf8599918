"""Order API shapes, per the contract."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from kassa.customer.schemas import Customer, CustomerName
from kassa.kit.address import Address, AddressInput
from kassa.kit.schemas import IDSchema, InputSchema, MetadataOutput, Schema, TimestampedSchema
from kassa.product.schemas import ProductVisibility, RecurringInterval


class OrderStatus(StrEnum):
    draft = "draft"
    pending = "pending"
    paid = "paid"
    refunded = "refunded"
    partially_refunded = "partially_refunded"
    void = "void"


class OrderBillingReason(StrEnum):
    purchase = "purchase"
    subscription_create = "subscription_create"
    subscription_cycle = "subscription_cycle"
    subscription_update = "subscription_update"
    subscription_meter_cycle = "subscription_meter_cycle"


class OrderSortProperty(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    status = "status"
    status_desc = "-status"
    invoice_number = "invoice_number"
    invoice_number_desc = "-invoice_number"
    amount = "amount"
    amount_desc = "-amount"
    net_amount = "net_amount"
    net_amount_desc = "-net_amount"
    customer = "customer"
    customer_desc = "-customer"
    product = "product"
    product_desc = "-product"
    discount = "discount"
    discount_desc = "-discount"
    subscription = "subscription"
    subscription_desc = "-subscription"


class OrderItem(IDSchema, TimestampedSchema):
    label: str
    amount: int
    tax_amount: int
    proration: bool
    product_price_id: uuid.UUID | None
    # Not in the 2026-10 contract, but polar-sdk 1.0 requires them (billing period of a line).
    start_timestamp: datetime | None = None
    end_timestamp: datetime | None = None


class OrderProduct(IDSchema, TimestampedSchema):
    metadata: MetadataOutput
    trial_interval: RecurringInterval | None
    trial_interval_count: int | None
    name: str
    description: str | None
    visibility: ProductVisibility
    recurring_interval: RecurringInterval | None
    recurring_interval_count: int | None
    meter_interval: RecurringInterval | None = None
    meter_interval_count: int | None = None
    is_recurring: bool
    is_archived: bool
    organization_id: uuid.UUID


class Order(IDSchema, TimestampedSchema):
    status: OrderStatus
    paid: bool
    subtotal_amount: int
    discount_amount: int
    net_amount: int
    tax_amount: int
    total_amount: int
    applied_balance_amount: int = 0
    due_amount: int
    refunded_amount: int
    refunded_tax_amount: int
    currency: str
    billing_reason: OrderBillingReason
    billing_name: str | None
    billing_address: Address | None
    invoice_number: str | None
    is_invoice_generated: bool = False
    receipt_number: str | None = None
    seats: int | None = None
    units: int | None = None  # polar-sdk 1.0 requires it; not in the 2026-10 contract
    customer_id: uuid.UUID
    product_id: uuid.UUID | None
    discount_id: uuid.UUID | None
    subscription_id: uuid.UUID | None = None
    checkout_id: uuid.UUID | None
    next_payment_attempt_at: datetime | None = None
    metadata: MetadataOutput
    custom_field_data: dict[str, Any] = Field(default_factory=dict)
    platform_fee_amount: int = 0
    platform_fee_currency: str | None = None
    customer: Customer
    product: OrderProduct | None
    discount: dict[str, Any] | None
    subscription: dict[str, Any] | None = None
    items: list[OrderItem]
    description: str
    refundable_amount: int
    refundable_tax_amount: int


class OrderUpdate(InputSchema):
    billing_name: CustomerName | None = None
    billing_address: AddressInput | None = None


class OrderListFilters(Schema):
    organization_id: list[uuid.UUID] | None = None
    product_id: list[uuid.UUID] | None = None
    product_billing_type: list[str] | None = None
    discount_id: list[uuid.UUID] | None = None
    customer_id: list[uuid.UUID] | None = None
    external_customer_id: list[str] | None = None
    checkout_id: list[uuid.UUID] | None = None
    status: list[OrderStatus] | None = None
