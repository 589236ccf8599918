from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kassa.models.base import Base, RecordMixin

if TYPE_CHECKING:
    from kassa.models.product import Product

# The products a discount is restricted to (none: it applies to every product).
DiscountProduct = Table(
    "discount_products",
    Base.metadata,
    Column(
        "discount_id",
        Uuid,
        ForeignKey("discounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "product_id",
        Uuid,
        ForeignKey("products.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Discount(RecordMixin, Base):
    """A discount of an organization: ``fixed`` (``amounts``: minor units per currency, with
    ``currency`` the one served as the deprecated ``amount``/``currency`` pair) or
    ``percentage`` (``basis_points``, 1/100th of a percent).

    ``redemptions_count`` only moves through the repository's conditional UPDATEs (and a CHECK
    backs them), so it never passes ``max_redemptions``. A deleted discount keeps its row
    (orders refer to it) but frees its code.
    """

    __tablename__ = "discounts"
    __table_args__ = (
        Index("ix_discounts_org_created", "organization_id", "created_at"),
        # Codes are matched case-insensitively, so they are unique case-insensitively.
        Index(
            "uq_discounts_org_code",
            "organization_id",
            func.lower(text("code")),
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND code IS NOT NULL"),
        ),
        CheckConstraint("type IN ('fixed', 'percentage')", name="type"),
        CheckConstraint(
            "type <> 'percentage' OR (basis_points BETWEEN 1 AND 10000)", name="basis_points"
        ),
        CheckConstraint(
            "type <> 'fixed' OR (amounts IS NOT NULL AND currency IS NOT NULL)", name="amounts"
        ),
        CheckConstraint("duration IN ('once', 'forever', 'repeating')", name="duration"),
        CheckConstraint(
            "(duration = 'repeating') = (duration_in_months IS NOT NULL)",
            name="duration_in_months",
        ),
        CheckConstraint(
            "starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at", name="period"
        ),
        CheckConstraint(
            "redemptions_count >= 0"
            " AND (max_redemptions IS NULL OR redemptions_count <= max_redemptions)",
            name="redemptions",
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(16))
    duration: Mapped[str] = mapped_column(String(16))
    duration_in_months: Mapped[int | None] = mapped_column(default=None)
    basis_points: Mapped[int | None] = mapped_column(default=None)
    amounts: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    code: Mapped[str | None] = mapped_column(String(256), default=None)
    starts_at: Mapped[datetime | None] = mapped_column(default=None)
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    max_redemptions: Mapped[int | None] = mapped_column(default=None)
    max_redemptions_per_customer: Mapped[int | None] = mapped_column(default=None)
    redemptions_count: Mapped[int] = mapped_column(default=0)
    user_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    products: Mapped[list[Product]] = relationship(
        secondary=DiscountProduct,
        lazy="selectin",
        order_by="[Product.created_at, Product.id]",
    )

    @property
    def amount(self) -> int | None:
        """The fixed amount in ``currency`` (the contract's deprecated single-currency form)."""
        if self.amounts is None or self.currency is None:
            return None
        value = self.amounts.get(self.currency)
        return int(value) if value is not None else None


class DiscountRedemption(RecordMixin, Base):
    """One use of a discount by one checkout. ``checkout_id`` is unique: a checkout redeeming
    again is a no-op, and releasing its redemption gives the use back."""

    __tablename__ = "discount_redemptions"
    __table_args__ = (
        UniqueConstraint("checkout_id"),
        Index("ix_discount_redemptions_discount_customer", "discount_id", "customer_id"),
    )

    discount_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("discounts.id", ondelete="CASCADE"))
    # No foreign key: the checkouts table comes with a later migration.
    checkout_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
