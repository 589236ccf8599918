"""pgqueuer's log and statistics tables are UNLOGGED (pgqueuer's "balanced" durability).

Every job writes three log rows (queued, picked, successful), which pgqueuer's aggregation
then updates and Kassa's prune deletes: more than half of the write-ahead log a sale produced,
for rows that are only history. The queue table itself, which holds every pending job, stays
logged: a crash still loses no job. What a crash may lose is that history (the statistics,
and the traceback ``kassa jobs failed`` shows beside a job held failed; the job stays).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment
from pgqueuer.domain.settings import Durability

from kassa.jobs.schema import SETTINGS

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _apply(durability: Durability) -> None:
    settings = SETTINGS.model_copy(update={"durability": durability})
    for statement in QueryBuilderEnvironment(settings).build_alter_durability_query():
        op.execute(statement)


def upgrade() -> None:
    _apply(Durability.balanced)


def downgrade() -> None:
    _apply(Durability.durable)
