from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ForeignKey,
    Identity,
    Index,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kassa.models.base import Base, RecordMixin


class WebhookEndpoint(RecordMixin, Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_org", "organization_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(String(2083))
    name: Mapped[str | None] = mapped_column(String(256), default=None)
    format: Mapped[str] = mapped_column(String(16), default="raw")
    secret: Mapped[str] = mapped_column(String(128))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    enabled: Mapped[bool] = mapped_column(default=True)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookEvent(RecordMixin, Base):
    """One event for one endpoint: the exact body sent and its delivery state. Its id is the
    ``webhook-id`` of every attempt, so receivers can deduplicate retries."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_org_created", "organization_id", "created_at"),
        # Ordering per (endpoint, resource): the earliest pending event goes first.
        Index(
            "ix_webhook_events_pending_order",
            "endpoint_id",
            "resource_key",
            "sequence",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_webhook_events_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    sequence: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(64))
    resource_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_http_code: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    is_archived: Mapped[bool] = mapped_column(default=False)


class WebhookDelivery(RecordMixin, Base):
    """One attempt to deliver an event: the delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_org_created", "organization_id", "created_at"),
        Index("ix_webhook_deliveries_event", "webhook_event_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    webhook_event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(SmallInteger)
    succeeded: Mapped[bool]
    http_code: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    response: Mapped[str | None] = mapped_column(Text, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[int] = mapped_column(default=0)


class OrganizationNotice(RecordMixin, Base):
    """Something an organization must be told about (e.g. an endpoint was disabled)."""

    __tablename__ = "organization_notices"
    __table_args__ = (Index("ix_organization_notices_org", "organization_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
