"""Enqueueing happens in the caller's transaction: a job exists iff its cause committed."""

from __future__ import annotations

import asyncpg
import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import Settings
from kassa.jobs.queue import enqueue, enqueue_many, enqueue_with
from kassa.kit import sql
from kassa.kit.db import session_scope
from tests.conftest import _libpq_kwargs
from tests.jobs.conftest import eventually, running_worker
from tests.jobs.handlers import Note, record

Sessionmaker = async_sessionmaker[AsyncSession]

pytestmark = pytest.mark.usefixtures("clean_queue")


async def job_row(sessionmaker: Sessionmaker, job_id: int) -> dict[str, object] | None:
    async with sessionmaker() as session:
        row = (
            await session.execute(text("SELECT * FROM pgqueuer WHERE id = :id"), {"id": job_id})
        ).first()
    return None if row is None else dict(row._mapping)


async def effects(sessionmaker: Sessionmaker, key: str) -> list[tuple[int, int]]:
    async with sessionmaker() as session:
        result = await session.execute(
            text("SELECT attempt, pid FROM job_test_effects WHERE key = :key ORDER BY id"),
            {"key": key},
        )
        return [(attempt, pid) for attempt, pid in result]


async def test_a_job_enqueued_in_a_committed_transaction_runs(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    before = enqueued_total()
    async with session_scope(jobs_sessionmaker) as session:
        job_id = await enqueue(session, record, Note(key="committed"))
        assert enqueued_total() == before  # counted on commit, not before
    assert enqueued_total() == before + 1
    assert await job_row(jobs_sessionmaker, job_id) is not None

    async with running_worker(jobs_database_url, job_settings):
        await eventually(lambda: effects(jobs_sessionmaker, "committed"))
        await eventually(lambda: _gone(jobs_sessionmaker, job_id))
    assert [attempt for attempt, _ in await effects(jobs_sessionmaker, "committed")] == [1]


def enqueued_total() -> float:
    labels = {"entrypoint": "tests.jobs.handlers:record"}
    return REGISTRY.get_sample_value("kassa_jobs_enqueued_total", labels) or 0.0


async def _gone(sessionmaker: Sessionmaker, job_id: int) -> bool:
    return await job_row(sessionmaker, job_id) is None


async def test_a_job_enqueued_in_a_rolled_back_transaction_never_exists(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str
) -> None:
    other = await asyncpg.connect(**_libpq_kwargs(jobs_database_url))  # type: ignore[arg-type]
    try:
        async with jobs_sessionmaker() as session:
            # The very first statement of the session: SQLAlchemy has not sent BEGIN yet.
            job_id = await enqueue(session, record, Note(key="rolled-back"))
            (job_id_2,) = await enqueue_many(session, record, [Note(key="rolled-back-2")])
            mine = await session.execute(
                text("SELECT count(*) FROM pgqueuer WHERE id = ANY(:ids)"),
                {"ids": [job_id, job_id_2]},
            )
            assert mine.scalar_one() == 2
            seen = await other.fetchval(
                "SELECT count(*) FROM pgqueuer WHERE id = ANY($1)", [job_id, job_id_2]
            )
            assert seen == 0  # invisible to everyone else until commit
            await session.rollback()
        seen = await other.fetchval(
            "SELECT count(*) FROM pgqueuer WHERE id = ANY($1)", [job_id, job_id_2]
        )
        assert seen == 0
    finally:
        await other.close()


async def test_a_job_rides_in_the_statement_of_other_writes_and_commits_with_them(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    before = enqueued_total()
    async with jobs_sessionmaker() as session:
        writes = sql.Writes()
        enqueue_with(session, writes, record, [Note(key="rolled-back-with")])
        await writes.run(session)
        await session.rollback()
    assert enqueued_total() == before
    async with session_scope(jobs_sessionmaker) as session:
        writes = sql.Writes()
        enqueue_with(session, writes, record, [Note(key="ridden")])
        writes.add("INSERT INTO job_test_effects (key, attempt, pid) VALUES ($1, 0, 0)", "beside")
        enqueue_with(session, writes, record, [Note(key="ridden-too")])
        assert len(writes.statements) == 2  # the second job joined the first one's insert
        await writes.run(session)
    assert enqueued_total() == before + 2
    async with jobs_sessionmaker() as session:
        queued = await session.execute(
            text(
                "SELECT job.payload, log.status FROM pgqueuer job"
                " JOIN pgqueuer_log log ON log.job_id = job.id WHERE job.entrypoint = :entrypoint"
            ),
            {"entrypoint": "tests.jobs.handlers:record"},
        )
        notes = {Note.model_validate_json(payload).key: status for payload, status in queued}
        assert notes == {"ridden": "queued", "ridden-too": "queued"}
    assert await effects(jobs_sessionmaker, "beside") == [(0, 0)]

    async with running_worker(jobs_database_url, job_settings):
        await eventually(lambda: effects(jobs_sessionmaker, "ridden"))
        await eventually(lambda: effects(jobs_sessionmaker, "ridden-too"))
    assert await effects(jobs_sessionmaker, "rolled-back-with") == []


async def test_the_payload_is_validated_before_anything_is_inserted(
    jobs_sessionmaker: Sessionmaker,
) -> None:
    async with jobs_sessionmaker() as session:
        count = text("SELECT count(*) FROM pgqueuer")
        before = (await session.execute(count)).scalar_one()
        with pytest.raises(ValidationError):
            await enqueue(session, record, Note.model_construct(key=None))  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await enqueue(session, record, {"key": 1, "sleep": -1})  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await enqueue_many(session, record, [Note(key="fine"), Note.model_construct()])
        with pytest.raises(LookupError):
            await enqueue(session, _not_a_job, Note(key="x"))  # type: ignore[arg-type]
        # The transaction is intact (no failed statement) and holds no new job.
        assert (await session.execute(count)).scalar_one() == before
        await session.rollback()


async def _not_a_job(ctx: object, payload: Note) -> None: ...


async def test_a_dedupe_key_keeps_one_live_job_and_returns_its_id(
    jobs_sessionmaker: Sessionmaker,
) -> None:
    async with session_scope(jobs_sessionmaker) as session:
        first = await enqueue(session, record, Note(key="dedupe"), dedupe_key="dedupe-1")
    async with session_scope(jobs_sessionmaker) as session:
        again = await enqueue(session, record, Note(key="dedupe"), dedupe_key="dedupe-1")
        ids = await enqueue_many(
            session,
            record,
            [Note(key="a"), Note(key="b"), Note(key="c")],
            dedupe_keys=["dedupe-2", "dedupe-1", "dedupe-2"],
        )
        await session.rollback()
    assert again == first
    assert ids[1] == first and ids[0] == ids[2] and ids[0] != first
    async with jobs_sessionmaker() as session:
        await session.execute(text("DELETE FROM pgqueuer WHERE id = :id"), {"id": first})
        await session.commit()
