"""Discounts, their product restrictions and redemptions.

Revision ID: 0004_discounts
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_discounts"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "discounts",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("duration", sa.String(length=16), nullable=False),
        sa.Column("duration_in_months", sa.Integer(), nullable=True),
        sa.Column("basis_points", sa.Integer(), nullable=True),
        sa.Column("amounts", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("code", sa.String(length=256), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("max_redemptions_per_customer", sa.Integer(), nullable=True),
        sa.Column("redemptions_count", sa.Integer(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("type IN ('fixed', 'percentage')", name=op.f("ck_discounts_type")),
        sa.CheckConstraint(
            "type <> 'percentage' OR (basis_points BETWEEN 1 AND 10000)",
            name=op.f("ck_discounts_basis_points"),
        ),
        sa.CheckConstraint(
            "type <> 'fixed' OR (amounts IS NOT NULL AND currency IS NOT NULL)",
            name=op.f("ck_discounts_amounts"),
        ),
        sa.CheckConstraint(
            "duration IN ('once', 'forever', 'repeating')", name=op.f("ck_discounts_duration")
        ),
        sa.CheckConstraint(
            "(duration = 'repeating') = (duration_in_months IS NOT NULL)",
            name=op.f("ck_discounts_duration_in_months"),
        ),
        sa.CheckConstraint(
            "starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at",
            name=op.f("ck_discounts_period"),
        ),
        sa.CheckConstraint(
            "redemptions_count >= 0"
            " AND (max_redemptions IS NULL OR redemptions_count <= max_redemptions)",
            name=op.f("ck_discounts_redemptions"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_discounts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discounts")),
    )
    op.create_index(
        "ix_discounts_org_created", "discounts", ["organization_id", "created_at"], unique=False
    )
    op.create_index(
        "uq_discounts_org_code",
        "discounts",
        ["organization_id", sa.literal_column("lower(code)")],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL AND code IS NOT NULL"),
    )
    op.create_table(
        "discount_products",
        sa.Column("discount_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["discount_id"],
            ["discounts.id"],
            name=op.f("fk_discount_products_discount_id_discounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_discount_products_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("discount_id", "product_id", name=op.f("pk_discount_products")),
    )
    op.create_index(
        op.f("ix_discount_products_product_id"), "discount_products", ["product_id"], unique=False
    )
    op.create_table(
        "discount_redemptions",
        sa.Column("discount_id", sa.Uuid(), nullable=False),
        sa.Column("checkout_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["discount_id"],
            ["discounts.id"],
            name=op.f("fk_discount_redemptions_discount_id_discounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_discount_redemptions_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discount_redemptions")),
        sa.UniqueConstraint("checkout_id", name=op.f("uq_discount_redemptions_checkout_id")),
    )
    op.create_index(
        "ix_discount_redemptions_discount_customer",
        "discount_redemptions",
        ["discount_id", "customer_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("discount_redemptions")
    op.drop_table("discount_products")
    op.drop_table("discounts")
