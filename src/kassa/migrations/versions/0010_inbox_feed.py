"""The inbox is its own queue: unsettled events are drained by the worker in batches.

``handed_off_at``: when the event was passed to a job of its own (``process_processor_event``),
for a case that batch settlement leaves to it or after a failed batch. The partial index holds
exactly the events a batch may take (not processed, not handed off), in arrival order. A
statement-level trigger wakes the listening workers after every insert.

Events stored before this revision came with a settlement job each; they are marked handed
off so that only that job settles them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "processor_events", sa.Column("handed_off_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE processor_events SET handed_off_at = now() WHERE processed_at IS NULL")
    op.execute(
        "CREATE INDEX ix_processor_events_unsettled ON processor_events (created_at) "
        "WHERE processed_at IS NULL AND handed_off_at IS NULL"
    )
    op.execute(
        """
        CREATE FUNCTION kassa_inbox_notify() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        BEGIN
            PERFORM pg_notify('kassa_inbox', '');
            RETURN NULL;
        END
        $body$
        """
    )
    op.execute(
        "CREATE TRIGGER processor_events_notify AFTER INSERT ON processor_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION kassa_inbox_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER processor_events_notify ON processor_events")
    op.execute("DROP FUNCTION kassa_inbox_notify()")
    op.execute("DROP INDEX ix_processor_events_unsettled")
    op.drop_column("processor_events", "handed_off_at")
