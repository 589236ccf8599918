"""Organizations, access tokens, products and prices, customers, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.SmallInteger(), nullable=False),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False
    )
    op.create_table(
        "organizations",
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("slug", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("website", sa.String(length=2083), nullable=True),
        sa.Column("avatar_url", sa.String(length=2083), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("default_presentment_currency", sa.String(length=3), nullable=False),
        sa.Column("default_tax_behavior", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("settings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organizations_slug")),
    )
    op.create_table(
        "customers",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("billing_name", sa.String(length=256), nullable=True),
        sa.Column("billing_address", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("tax_id", sa.String(length=64), nullable=True),
        sa.Column("tax_id_format", sa.String(length=16), nullable=True),
        sa.Column("locale", sa.String(length=35), nullable=True),
        sa.Column("external_id", sa.String(length=256), nullable=True),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_customers_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(
        "ix_customers_org_created", "customers", ["organization_id", "created_at"], unique=False
    )
    op.create_index(
        "uq_customers_org_email",
        "customers",
        ["organization_id", sa.literal_column("lower(email)")],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL AND email IS NOT NULL"),
    )
    op.create_index(
        "uq_customers_org_external_id",
        "customers",
        ["organization_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL AND external_id IS NOT NULL"),
    )
    op.create_table(
        "organization_access_tokens",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("comment", sa.String(length=256), nullable=False),
        sa.Column("scopes", sa.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_access_tokens_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization_access_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_organization_access_tokens_token_hash")),
    )
    op.create_index(
        "ix_organization_access_tokens_org",
        "organization_access_tokens",
        ["organization_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "products",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("recurring_interval", sa.String(length=8), nullable=True),
        sa.Column("recurring_interval_count", sa.Integer(), nullable=True),
        sa.Column("trial_interval", sa.String(length=8), nullable=True),
        sa.Column("trial_interval_count", sa.Integer(), nullable=True),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(recurring_interval IS NULL) = (recurring_interval_count IS NULL)",
            name=op.f("ck_products_recurring"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_products_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index(
        "ix_products_org_created", "products", ["organization_id", "created_at"], unique=False
    )
    op.create_table(
        "product_prices",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("amount_type", sa.String(length=16), nullable=False),
        sa.Column("price_currency", sa.String(length=3), nullable=False),
        sa.Column("tax_behavior", sa.String(length=16), nullable=True),
        sa.Column("price_amount", sa.BigInteger(), nullable=True),
        sa.Column("minimum_amount", sa.BigInteger(), nullable=True),
        sa.Column("maximum_amount", sa.BigInteger(), nullable=True),
        sa.Column("preset_amount", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("is_archived", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "amount_type <> 'custom' OR (minimum_amount IS NOT NULL AND minimum_amount >= 0"
            " AND (maximum_amount IS NULL OR maximum_amount >= minimum_amount))",
            name=op.f("ck_product_prices_custom_amounts"),
        ),
        sa.CheckConstraint(
            "amount_type <> 'fixed' OR (price_amount IS NOT NULL AND price_amount >= 0)",
            name=op.f("ck_product_prices_fixed_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_prices_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_prices")),
    )
    op.create_index(
        op.f("ix_product_prices_product_id"), "product_prices", ["product_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_product_prices_product_id"), table_name="product_prices")
    op.drop_table("product_prices")
    op.drop_index("ix_products_org_created", table_name="products")
    op.drop_table("products")
    op.drop_index("ix_organization_access_tokens_org", table_name="organization_access_tokens")
    op.drop_table("organization_access_tokens")
    op.drop_index(
        "uq_customers_org_external_id",
        table_name="customers",
        postgresql_where=sa.text("deleted_at IS NULL AND external_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_customers_org_email",
        table_name="customers",
        postgresql_where=sa.text("deleted_at IS NULL AND email IS NOT NULL"),
    )
    op.drop_index("ix_customers_org_created", table_name="customers")
    op.drop_table("customers")
    op.drop_table("organizations")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
