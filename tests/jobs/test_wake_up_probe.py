"""The worker's wake-up probes, answered in one round trip, give what pgqueuer's three would;
the empty dequeue after a short one is skipped, and the probe still sees jobs enqueued since."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
import pytest_asyncio
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence.queries import Queries
from pgqueuer.domain import types
from pgqueuer.ports.repository import EntrypointExecutionParameter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.jobs import schema
from kassa.jobs.queue import enqueue
from kassa.jobs.registry import definition_of
from kassa.jobs.runner import KassaQueries
from kassa.kit.db import session_scope
from tests.conftest import _libpq_kwargs
from tests.jobs.handlers import Note, record

pytestmark = pytest.mark.usefixtures("clean_queue")

ENTRYPOINTS = [types.QueueEntrypoint(definition_of(record).name)]


@pytest_asyncio.fixture
async def probes(jobs_database_url: str) -> AsyncIterator[tuple[KassaQueries, Queries]]:
    """Kassa's folded probes and pgqueuer's own, on one connection."""
    connection = await asyncpg.connect(**_libpq_kwargs(jobs_database_url))  # type: ignore[arg-type]
    driver = AsyncpgDriver(connection)
    builders = {"qbe": schema.QBE, "qbq": schema.queue_builder(), "qbs": schema.QBS}
    try:
        yield KassaQueries(driver, **builders), Queries(driver, **builders)
    finally:
        await connection.close()


async def _enqueue(sessionmaker: async_sessionmaker[AsyncSession], delay: timedelta) -> None:
    async with session_scope(sessionmaker) as session:
        await enqueue(session, record, Note(key="probe"), execute_after=delay)


async def _wake_up(queries: Queries) -> tuple[int, timedelta | None, int | None]:
    """The probes in pgqueuer's order, each asked only when pgqueuer would ask it."""
    eligible = await queries.eligible_queued_work(ENTRYPOINTS)
    if eligible:
        return eligible, None, None
    eta = await queries.next_deferred_eta(ENTRYPOINTS)
    if eta is not None:
        return eligible, eta, None
    return eligible, eta, await queries.queued_work(ENTRYPOINTS)


async def test_an_empty_queue(probes: tuple[KassaQueries, Queries]) -> None:
    kassa, pgqueuer = probes
    assert await _wake_up(kassa) == await _wake_up(pgqueuer) == (0, None, 0)


async def test_a_deferred_job_gives_its_eta(
    probes: tuple[KassaQueries, Queries], jobs_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kassa, pgqueuer = probes
    await _enqueue(jobs_sessionmaker, timedelta(seconds=60))
    eligible, eta, _ = await _wake_up(kassa)
    assert eligible == 0
    assert eta is not None and timedelta(seconds=58) < eta <= timedelta(seconds=60)
    # Asked on its own (pgqueuer's drain does), the count is read afresh: nothing is left over.
    assert await kassa.queued_work(ENTRYPOINTS) == await pgqueuer.queued_work(ENTRYPOINTS) == 1


async def test_a_due_job_is_eligible(
    probes: tuple[KassaQueries, Queries], jobs_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kassa, pgqueuer = probes
    await _enqueue(jobs_sessionmaker, timedelta(0))
    assert await _wake_up(kassa) == await _wake_up(pgqueuer) == (1, None, None)


async def test_answers_kept_from_a_probe_are_used_once(
    probes: tuple[KassaQueries, Queries], jobs_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kassa, _ = probes
    assert await _wake_up(kassa) == (0, None, 0)
    await _enqueue(jobs_sessionmaker, timedelta(0))
    assert await kassa.queued_work(ENTRYPOINTS) == 1
    assert await kassa.next_deferred_eta(ENTRYPOINTS) is None


async def _dequeue(queries: Queries, batch_size: int) -> list[str]:
    jobs = await queries.dequeue(
        batch_size=batch_size,
        entrypoints={
            name: EntrypointExecutionParameter(concurrency_limit=0) for name in ENTRYPOINTS
        },
        queue_manager_id=types.QueueManagerId(uuid.uuid4()),
        global_concurrency_limit=None,
        heartbeat_timeout=timedelta(seconds=30),
    )
    return [job.entrypoint for job in jobs]


async def test_after_a_short_dequeue_the_next_is_empty_and_the_probe_sees_new_jobs(
    probes: tuple[KassaQueries, Queries], jobs_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kassa, pgqueuer = probes
    await _enqueue(jobs_sessionmaker, timedelta(0))
    assert len(await _dequeue(kassa, batch_size=10)) == 1
    await _enqueue(jobs_sessionmaker, timedelta(0))
    # The job enqueued since is not taken by the dequeue that follows a short one ...
    assert await _dequeue(kassa, batch_size=10) == []
    # ... but the probe pgqueuer asks next sees it, and the dequeue after that takes it.
    assert await _wake_up(kassa) == (1, None, None)
    assert len(await _dequeue(kassa, batch_size=10)) == 1
    assert await _dequeue(pgqueuer, batch_size=10) == []


async def test_after_a_full_dequeue_the_next_asks_again(
    probes: tuple[KassaQueries, Queries], jobs_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    kassa, _ = probes
    for _ in range(3):
        await _enqueue(jobs_sessionmaker, timedelta(0))
    assert len(await _dequeue(kassa, batch_size=2)) == 2
    assert len(await _dequeue(kassa, batch_size=2)) == 1
    assert await _dequeue(kassa, batch_size=2) == []
