from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kassa.models.base import Base, RecordMixin


class Product(RecordMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_org_created", "organization_id", "created_at"),
        CheckConstraint(
            "(recurring_interval IS NULL) = (recurring_interval_count IS NULL)", name="recurring"
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    recurring_interval: Mapped[str | None] = mapped_column(String(8), default=None)
    recurring_interval_count: Mapped[int | None] = mapped_column(default=None)
    trial_interval: Mapped[str | None] = mapped_column(String(8), default=None)
    trial_interval_count: Mapped[int | None] = mapped_column(default=None)
    is_archived: Mapped[bool] = mapped_column(default=False)
    user_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)

    prices: Mapped[list[ProductPrice]] = relationship(
        back_populates="product", lazy="selectin", order_by="ProductPrice.created_at"
    )

    @property
    def is_recurring(self) -> bool:
        return self.recurring_interval is not None


class ProductPrice(RecordMixin, Base):
    """A price of a product. ``fixed``: ``price_amount``; ``custom`` (pay what you want):
    ``minimum_amount``, optional ``maximum_amount`` and ``preset_amount``. All in minor units."""

    __tablename__ = "product_prices"
    __table_args__ = (
        CheckConstraint(
            "amount_type <> 'fixed' OR (price_amount IS NOT NULL AND price_amount >= 0)",
            name="fixed_amount",
        ),
        CheckConstraint(
            "amount_type <> 'custom' OR (minimum_amount IS NOT NULL AND minimum_amount >= 0"
            " AND (maximum_amount IS NULL OR maximum_amount >= minimum_amount))",
            name="custom_amounts",
        ),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    amount_type: Mapped[str] = mapped_column(String(16))
    price_currency: Mapped[str] = mapped_column(String(3))
    tax_behavior: Mapped[str | None] = mapped_column(String(16), default=None)
    price_amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    minimum_amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    maximum_amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    preset_amount: Mapped[int | None] = mapped_column(BigInteger, default=None)
    source: Mapped[str] = mapped_column(String(16), default="catalog")
    is_archived: Mapped[bool] = mapped_column(default=False)

    product: Mapped[Product] = relationship(back_populates="prices", lazy="raise")
