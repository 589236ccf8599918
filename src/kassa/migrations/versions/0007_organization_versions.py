"""Version counters of an organization's catalog and webhook endpoints, bumped by triggers.

Every checkout reads its organization's products and webhook endpoints; they change rarely.
Processes cache them (``kassa.kit.versioned``) and use a cached copy only while the
organization's counter, read in the same round trip as something the request reads anyway
(its token, its checkout), still holds the value the copy was read at. Triggers bump the
counters in the transaction of every change, whatever code (or hand-written SQL) makes it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CATALOG = """
CREATE FUNCTION organizations_bump_catalog_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    row_product_id uuid;
    organization uuid;
BEGIN
    IF TG_TABLE_NAME = 'products' THEN
        IF TG_OP = 'DELETE' THEN organization := OLD.organization_id;
        ELSE organization := NEW.organization_id;
        END IF;
    ELSE
        IF TG_OP = 'DELETE' THEN row_product_id := OLD.product_id;
        ELSE row_product_id := NEW.product_id;
        END IF;
        SELECT organization_id INTO organization FROM products WHERE id = row_product_id;
    END IF;
    UPDATE organizations SET catalog_version = catalog_version + 1 WHERE id = organization;
    RETURN NULL;
END $$
"""
_WEBHOOKS = """
CREATE FUNCTION organizations_bump_webhooks_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    organization uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN organization := OLD.organization_id;
    ELSE organization := NEW.organization_id;
    END IF;
    UPDATE organizations SET webhooks_version = webhooks_version + 1 WHERE id = organization;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    for column in ("catalog_version", "webhooks_version"):
        op.add_column(
            "organizations",
            sa.Column(column, sa.BigInteger(), server_default="0", nullable=False),
        )
    op.execute(_CATALOG)
    op.execute(_WEBHOOKS)
    for table in ("products", "product_prices"):
        op.execute(
            f"CREATE TRIGGER {table}_bump_catalog_version AFTER INSERT OR UPDATE OR DELETE "
            f"ON {table} FOR EACH ROW EXECUTE FUNCTION organizations_bump_catalog_version()"
        )
    # What emitting an event reads of an endpoint; failure counters change without a bump.
    op.execute(
        "CREATE TRIGGER webhook_endpoints_bump_webhooks_version "
        "AFTER INSERT OR DELETE OR UPDATE OF organization_id, enabled, deleted_at, events, format "
        "ON webhook_endpoints FOR EACH ROW EXECUTE FUNCTION organizations_bump_webhooks_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER webhook_endpoints_bump_webhooks_version ON webhook_endpoints")
    for table in ("products", "product_prices"):
        op.execute(f"DROP TRIGGER {table}_bump_catalog_version ON {table}")
    op.execute("DROP FUNCTION organizations_bump_webhooks_version()")
    op.execute("DROP FUNCTION organizations_bump_catalog_version()")
    for column in ("webhooks_version", "catalog_version"):
        op.drop_column("organizations", column)
