"""Periodic tasks: once per period, however many workers run.

pgqueuer's scheduler (1.6, ``SchedulerManager``) keeps one row per task in
``pgqueuer_schedules``. A worker fires a task only by flipping that row from ``queued`` to
``picked`` and advancing ``next_run`` in one ``UPDATE`` whose ``FOR UPDATE SKIP LOCKED``
subquery selects rows with ``next_run <= now()``: one worker wins each due time, the others skip
the locked row or see the advanced ``next_run``. That alone is not "once per period":
``next_run`` is ``now()`` plus a delay the worker computed from its own clock, so a skewed worker
can set it to a time still due and the task fires again at once; and a worker that dies after
firing leaves the row ``picked``, which another worker re-fires after 30 s.

So a fire does not run the task. It enqueues a job for the period, namely the cron boundary
before the row's new ``next_run`` (read from the database, not from a worker clock), and records
(task, period) in ``job_periodic_runs`` in the same transaction. The primary key rejects a
second fire for that period, whose transaction then rolls back, taking its job with it. The
job itself runs like any other: retried on failure, held failed when out of attempts, rerun
when its worker dies.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from croniter import croniter
from pgqueuer.core.sm import SchedulerManager
from pgqueuer.domain import models
from pgqueuer.ports import RepositoryPort
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.jobs import repository
from kassa.jobs.queue import enqueue_definition
from kassa.jobs.registry import PeriodicDefinition, PeriodicRun
from kassa.kit.db import session_scope

log = structlog.get_logger("kassa.jobs")

RUNS_KEPT = timedelta(days=7)


def scheduler(
    queries: RepositoryPort,
    sessionmaker: async_sessionmaker[AsyncSession],
    periodics: list[PeriodicDefinition],
) -> SchedulerManager | None:
    if not periodics:
        return None
    manager = SchedulerManager(queries)
    for periodic in periodics:

        async def on_due(
            schedule: models.Schedule, periodic: PeriodicDefinition = periodic
        ) -> None:
            await fire(sessionmaker, periodic, schedule)

        manager.schedule(periodic.name, periodic.cron, accepts_context=False)(on_due)
    return manager


async def fire(
    sessionmaker: async_sessionmaker[AsyncSession],
    periodic: PeriodicDefinition,
    schedule: models.Schedule,
) -> None:
    period = croniter(periodic.cron, start_time=schedule.next_run).get_prev(datetime)
    async with session_scope(sessionmaker) as session:
        (job_id,) = await enqueue_definition(
            session,
            periodic.job,
            [PeriodicRun(scheduled_for=period)],
            dedupe_keys=[f"periodic:{periodic.name}:{period.isoformat()}"],
        )
        recorded = await repository.record_periodic_run(
            session, periodic.name, period, job_id, RUNS_KEPT
        )
        if not recorded:
            await session.rollback()
    log.info("periodic_fired", task=periodic.name, period=period.isoformat(), new=recorded)
