"""SQL over pgqueuer's tables and the periodic-run ledger, in the caller's transaction.

The f-strings below interpolate only the pinned table names of ``kassa.jobs.schema`` (S608).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.jobs.schema import LOG_TABLE, QUEUE_TABLE, STATISTICS_TABLE
from kassa.kit import sql
from kassa.models.job import JobPeriodicRun

_ACTIVE = "status IN ('queued', 'picked')"

# Plain SQL (``kit.sql``): every job's transaction ends with it.
_COMPLETE = f"""
    WITH done AS (
        DELETE FROM {QUEUE_TABLE}
        WHERE id = ANY($1::bigint[]) AND queue_manager_id = $2 AND status = 'picked'
        RETURNING id, entrypoint, priority
    )
    INSERT INTO {LOG_TABLE} (job_id, status, entrypoint, priority)
    SELECT id, 'successful', entrypoint, priority FROM done
    RETURNING job_id
"""  # noqa: S608


async def complete_job(session: AsyncSession, job_id: int, owner: uuid.UUID) -> bool:
    """Delete the job as done, in the handler's transaction, if this worker still owns it.

    False means another worker took it over (its heartbeat looked stale) or it is gone: the
    handler's writes must then roll back, since that other run will commit its own.
    """
    return job_id in await complete_jobs(session, [job_id], owner)


async def complete_jobs(
    session: AsyncSession, job_ids: Sequence[int], owner: uuid.UUID
) -> set[int]:
    """``complete_job`` for a batch in one statement: the ids this worker still owned, now
    deleted as done. Any id missing from the result means the batch's writes must roll back."""
    rows = await (await sql.connection(session)).fetch(_COMPLETE, list(job_ids), owner)
    return {int(row["job_id"]) for row in rows}


async def active_jobs_by_dedupe_key(session: AsyncSession, keys: Sequence[str]) -> dict[str, int]:
    result = await session.execute(
        text(
            f"SELECT dedupe_key, id FROM {QUEUE_TABLE} WHERE dedupe_key = ANY(:keys) AND {_ACTIVE}"  # noqa: S608
        ),
        {"keys": list(keys)},
    )
    return {key: job_id for key, job_id in result}


async def record_periodic_run(
    session: AsyncSession, name: str, scheduled_for: datetime, job_id: int, keep: timedelta
) -> bool:
    """Record that ``name`` ran for ``scheduled_for``; False if that period already has a run."""
    inserted = await session.execute(
        insert(JobPeriodicRun)
        .values(name=name, scheduled_for=scheduled_for, job_id=job_id)
        .on_conflict_do_nothing()
        .returning(JobPeriodicRun.job_id)
    )
    if inserted.first() is None:
        return False
    await session.execute(
        text("DELETE FROM job_periodic_runs WHERE name = :name AND scheduled_for < :before"),
        {"name": name, "before": scheduled_for - keep},
    )
    return True


@dataclass(frozen=True)
class FailedJob:
    id: int
    entrypoint: str
    attempts: int  # attempts made; pgqueuer's column counts the retries
    created: datetime
    failed_at: datetime
    payload: bytes | None
    error: dict[str, Any] | None


async def failed_jobs(session: AsyncSession, limit: int) -> list[FailedJob]:
    """Jobs held in the failed state, most recent first, with the error of their last attempt."""
    result = await session.execute(
        text(f"""
            SELECT job.id, job.entrypoint, job.attempts + 1, job.created, job.updated,
                   job.payload, last_error.traceback
            FROM {QUEUE_TABLE} job
            LEFT JOIN LATERAL (
                SELECT traceback FROM {LOG_TABLE} log
                WHERE log.job_id = job.id AND log.traceback IS NOT NULL
                ORDER BY log.created DESC, log.id DESC
                LIMIT 1
            ) last_error ON TRUE
            WHERE job.status = 'failed'
            ORDER BY job.updated DESC, job.id DESC
            LIMIT :limit
        """),  # noqa: S608
        {"limit": limit},
    )
    return [FailedJob(*row) for row in result]


async def lock_failed_jobs(session: AsyncSession, ids: Sequence[int] | None) -> list[int]:
    """Lock failed jobs (the given ones, or all when ``ids`` is None) and return their ids."""
    result = await session.execute(
        text(f"""
            SELECT id FROM {QUEUE_TABLE}
            WHERE status = 'failed' AND (CAST(:all AS boolean) OR id = ANY(:ids))
            ORDER BY id
            FOR UPDATE
        """),  # noqa: S608
        {"all": ids is None, "ids": list(ids or [])},
    )
    return list(result.scalars())


async def prune_log(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        text(f"""
            WITH log AS (
                DELETE FROM {LOG_TABLE} log
                WHERE log.created < :before AND log.aggregated
                  AND NOT EXISTS (
                      SELECT 1 FROM {QUEUE_TABLE} job
                      WHERE job.id = log.job_id AND job.status = 'failed'
                  )
                RETURNING 1
            ), statistics AS (
                DELETE FROM {STATISTICS_TABLE} WHERE created < :before RETURNING 1
            )
            SELECT (SELECT count(*) FROM log) + (SELECT count(*) FROM statistics)
        """),  # noqa: S608
        {"before": before},
    )
    return int(result.scalar_one())
