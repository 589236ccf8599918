from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from kassa.models.base import Base, RecordMixin


class Customer(RecordMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_org_created", "organization_id", "created_at"),
        Index(
            "uq_customers_org_email",
            "organization_id",
            func.lower(text("email")),
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND email IS NOT NULL"),
        ),
        Index(
            "uq_customers_org_external_id",
            "organization_id",
            "external_id",
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND external_id IS NOT NULL"),
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(16), default="individual")
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    email_verified: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str | None] = mapped_column(String(256), default=None)
    billing_name: Mapped[str | None] = mapped_column(String(256), default=None)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    tax_id: Mapped[str | None] = mapped_column(String(64), default=None)
    tax_id_format: Mapped[str | None] = mapped_column(String(16), default=None)
    locale: Mapped[str | None] = mapped_column(String(35), default=None)
    external_id: Mapped[str | None] = mapped_column(String(256), default=None)
    user_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
