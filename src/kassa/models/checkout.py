from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from kassa.models.base import Base, RecordMixin


class Checkout(RecordMixin, Base):
    """A checkout session: what is being bought, by whom, for how much, and how far it got.

    Amounts are minor units of ``currency`` and always satisfy ``net = amount - discount`` and
    ``total = net + tax``. ``payment_attempts`` counts committed payment attempts; processor
    idempotency keys are derived from it, so a retried confirm reuses the same remote payment.
    """

    __tablename__ = "checkouts"
    __table_args__ = (
        Index("ix_checkouts_org_created", "organization_id", "created_at"),
        Index("ix_checkouts_open_expiry", "expires_at", postgresql_where="status = 'open'"),
        CheckConstraint("net_amount = amount - discount_amount", name="net_amount"),
        CheckConstraint("total_amount = net_amount + coalesce(tax_amount, 0)", name="total_amount"),
        CheckConstraint("discount_amount >= 0 AND discount_amount <= amount", name="discount"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    client_secret: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(2083))
    status: Mapped[str] = mapped_column(String(16), default="open")
    processor: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime]
    success_url: Mapped[str | None] = mapped_column(String(2083), default=None)
    return_url: Mapped[str | None] = mapped_column(String(2083), default=None)
    embed_origin: Mapped[str | None] = mapped_column(String(256), default=None)

    product_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    product_price_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product_prices.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    discount_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    net_amount: Mapped[int] = mapped_column(BigInteger)
    tax_amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    seats: Mapped[int | None] = mapped_column(default=None)

    discount_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("discounts.id"), default=None)
    allow_discount_codes: Mapped[bool] = mapped_column(default=True)
    require_billing_address: Mapped[bool] = mapped_column(default=False)
    allow_trial: Mapped[bool | None] = mapped_column(default=True)
    trial_interval: Mapped[str | None] = mapped_column(String(8), default=None)
    trial_interval_count: Mapped[int | None] = mapped_column(default=None)

    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id"), default=None)
    external_customer_id: Mapped[str | None] = mapped_column(String(256), default=None)
    is_business_customer: Mapped[bool] = mapped_column(default=False)
    customer_name: Mapped[str | None] = mapped_column(String(256), default=None)
    customer_email: Mapped[str | None] = mapped_column(String(320), default=None)
    customer_ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
    customer_billing_name: Mapped[str | None] = mapped_column(String(256), default=None)
    customer_billing_address: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    customer_tax_id: Mapped[str | None] = mapped_column(String(64), default=None)
    locale: Mapped[str | None] = mapped_column(String(35), default=None)
    payment_method_type: Mapped[str | None] = mapped_column(String(32), default=None)

    user_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    customer_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    custom_field_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    checkout_link_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("checkout_links.id", ondelete="SET NULL"), default=None
    )
    payment_attempts: Mapped[int] = mapped_column(default=0)
    payment_error: Mapped[str | None] = mapped_column(Text, default=None)


class CheckoutLink(RecordMixin, Base):
    """A reusable link; opening its URL creates a fresh checkout with these settings."""

    __tablename__ = "checkout_links"
    __table_args__ = (Index("ix_checkout_links_org_created", "organization_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    client_secret: Mapped[str] = mapped_column(String(64), unique=True)
    processor: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(256), default=None)
    product_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    product_price_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("product_prices.id"), default=None
    )
    discount_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("discounts.id"), default=None)
    allow_discount_codes: Mapped[bool] = mapped_column(default=True)
    require_billing_address: Mapped[bool] = mapped_column(default=False)
    trial_interval: Mapped[str | None] = mapped_column(String(8), default=None)
    trial_interval_count: Mapped[int | None] = mapped_column(default=None)
    seats: Mapped[int | None] = mapped_column(default=None)
    success_url: Mapped[str | None] = mapped_column(String(2083), default=None)
    return_url: Mapped[str | None] = mapped_column(String(2083), default=None)
    user_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
