"""``kassa_changed_since_read(what)``: fail the statement as a serialization failure.

A write made without holding a row's lock since it was read (an optimistic write) names the
version it read (the row's ``xmin``) and calls this where the row no longer has it:
``CASE WHEN xmin = $n::xid THEN true ELSE kassa_changed_since_read('checkout') END``. The
whole statement then fails, and every other change in it with it, as REPEATABLE READ would
fail a transaction that updates a row changed since its snapshot (SQLSTATE 40001).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION kassa_changed_since_read(what text) RETURNS boolean
        LANGUAGE plpgsql VOLATILE AS $body$
        BEGIN
            RAISE EXCEPTION '% changed since it was read', what
                USING ERRCODE = 'serialization_failure';
        END
        $body$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION kassa_changed_since_read(text)")
