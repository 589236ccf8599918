"""Background jobs: pgqueuer's queue, log, statistics and schedule tables; periodic-run ledger.

The pgqueuer objects are rendered by pgqueuer's own DDL builder for the installed release
(1.6), under the names pinned in ``kassa.jobs.schema``. A later pgqueuer release that changes
its schema needs a new migration that applies the difference (pgqueuer's ``render_converge``
or ``Queries.plan_upgrade`` compute it), never an edit of this one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kassa.jobs.schema import install_statements, uninstall_statements

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    for statement in install_statements():
        connection.exec_driver_sql(statement)
    op.create_table(
        "job_periodic_runs",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "scheduled_for", name=op.f("pk_job_periodic_runs")),
    )


def downgrade() -> None:
    op.drop_table("job_periodic_runs")
    connection = op.get_bind()
    for statement in uninstall_statements():
        connection.exec_driver_sql(statement)
