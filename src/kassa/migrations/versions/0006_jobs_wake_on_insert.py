"""Workers are woken by new jobs only: pgqueuer's change trigger fires on INSERT.

pgqueuer's trigger notifies every listening worker after each INSERT, DELETE or TRUNCATE on the
queue table (its UPDATEs never notify: a statement-level trigger has no OLD/NEW). The DELETE
that completes a job therefore woke every worker for a dequeue that found nothing, about once
per job. Kassa's workers need waking only when a job is inserted: retries, requeued failed
jobs and stalled jobs are found by the poll (``job_poll_interval_seconds``), and Kassa sets no
per-entrypoint concurrency limits, whose freed capacity the DELETE announced.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from kassa.jobs.schema import SETTINGS

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _trigger(events: str) -> None:
    op.execute(f"DROP TRIGGER IF EXISTS {SETTINGS.trigger} ON {SETTINGS.queue_table}")
    op.execute(
        f"CREATE TRIGGER {SETTINGS.trigger} AFTER {events} ON {SETTINGS.queue_table} "
        f"EXECUTE FUNCTION {SETTINGS.function}()"
    )


def upgrade() -> None:
    _trigger("INSERT")


def downgrade() -> None:
    _trigger("INSERT OR UPDATE OR DELETE OR TRUNCATE")
