from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from kassa.models.base import Base, RecordMixin


class Organization(RecordMixin, Base):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(256))
    slug: Mapped[str] = mapped_column(String(128), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    website: Mapped[str | None] = mapped_column(String(2083), default=None)
    avatar_url: Mapped[str | None] = mapped_column(String(2083), default=None)
    status: Mapped[str] = mapped_column(String(32), default="active")
    default_presentment_currency: Mapped[str] = mapped_column(String(3), default="usd")
    default_tax_behavior: Mapped[str] = mapped_column(String(16), default="location")
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Bumped by triggers on every change of the catalog (products, prices) and of the webhook
    # endpoints: processes cache those while the counter holds (``kassa.kit.versioned``).
    catalog_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    webhooks_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
