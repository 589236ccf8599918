from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kassa.models.base import Base, RecordMixin

if TYPE_CHECKING:
    from kassa.models.customer import Customer
    from kassa.models.discount import Discount
    from kassa.models.product import Product


class Order(RecordMixin, Base):
    """What a customer bought and owes. One per checkout at most (unique ``checkout_id``):
    the database itself refuses a second order for the same checkout."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_org_created", "organization_id", "created_at"),
        Index("ix_orders_customer", "customer_id"),
        CheckConstraint("net_amount = subtotal_amount - discount_amount", name="net_amount"),
        CheckConstraint("total_amount = net_amount + tax_amount", name="total_amount"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(24), default="pending")
    billing_reason: Mapped[str] = mapped_column(String(32), default="purchase")
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_amount: Mapped[int] = mapped_column(BigInteger)
    discount_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    net_amount: Mapped[int] = mapped_column(BigInteger)
    tax_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    total_amount: Mapped[int] = mapped_column(BigInteger)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_tax_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    billing_name: Mapped[str | None] = mapped_column(String(256), default=None)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    invoice_number: Mapped[str | None] = mapped_column(String(64), default=None)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    product_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("products.id"), default=None)
    product_price_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("product_prices.id"), default=None
    )
    discount_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("discounts.id"), default=None)
    checkout_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("checkouts.id"), unique=True, default=None
    )
    seats: Mapped[int | None] = mapped_column(default=None)
    user_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    custom_field_data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    customer: Mapped[Customer] = relationship(lazy="selectin")
    product: Mapped[Product | None] = relationship(lazy="selectin")
    discount: Mapped[Discount | None] = relationship(lazy="selectin")
    items: Mapped[list[OrderItem]] = relationship(
        lazy="selectin", order_by="OrderItem.created_at", cascade="all, delete-orphan"
    )

    @property
    def paid(self) -> bool:
        return self.status in ("paid", "refunded", "partially_refunded")


class OrderItem(RecordMixin, Base):
    __tablename__ = "order_items"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(512))
    amount: Mapped[int] = mapped_column(BigInteger)
    tax_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    proration: Mapped[bool] = mapped_column(default=False)
    product_price_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("product_prices.id"), default=None
    )
