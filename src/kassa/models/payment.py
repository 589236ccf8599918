from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kassa.models.base import Base, RecordMixin

if TYPE_CHECKING:
    from kassa.models.order import Order


IN_FLIGHT_PAYMENT_STATUSES = ("pending", "requires_action")
# In flight or succeeded: at most one such payment per checkout (``uq_payments_checkout_live``).
LIVE_PAYMENT_STATUSES = (*IN_FLIGHT_PAYMENT_STATUSES, "succeeded")


class Payment(RecordMixin, Base):
    """One attempt to collect money through a processor.

    ``processor_id`` is the processor's own id (a PaymentIntent id for Stripe); it is unique, so
    a settlement event can only ever settle one row. At most one attempt per checkout can be in
    flight or succeeded (partial unique index): a second concurrent confirm cannot charge again.
    """

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_org_created", "organization_id", "created_at"),
        UniqueConstraint("processor", "processor_id"),
        Index(
            "uq_payments_checkout_live",
            "checkout_id",
            unique=True,
            postgresql_where=text(
                "status IN (" + ", ".join(f"'{s}'" for s in LIVE_PAYMENT_STATUSES) + ")"
            ),
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    checkout_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkouts.id"), default=None)
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id"), default=None)
    # Lets the unit of work insert a new order before the payment row that points at it.
    order: Mapped[Order | None] = relationship(lazy="raise")
    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id"), default=None)
    processor: Mapped[str] = mapped_column(String(16))
    processor_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(24))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(32), default="card")
    card_brand: Mapped[str | None] = mapped_column(String(32), default=None)
    card_last4: Mapped[str | None] = mapped_column(String(4), default=None)
    next_action_url: Mapped[str | None] = mapped_column(String(2083), default=None)
    decline_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    decline_message: Mapped[str | None] = mapped_column(Text, default=None)


class ProcessorEvent(RecordMixin, Base):
    """The inbox: each event a processor sends is stored once (unique per processor and event
    id) and processed in the transaction that marks it ``processed_at``: by a batch of the
    inbox feed, or by a job of its own once ``handed_off_at`` (``kassa.payments.inbox``)."""

    __tablename__ = "processor_events"
    __table_args__ = (
        UniqueConstraint("processor", "event_id"),
        Index(
            "ix_processor_events_unsettled",
            "created_at",
            postgresql_where="processed_at IS NULL AND handed_off_at IS NULL",
        ),
    )

    processor: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(64), default=None)
    handed_off_at: Mapped[datetime | None] = mapped_column(default=None)
