"""Batch jobs in a real worker: enqueued one by one, run in batches per key in one transaction,
each job retried or held failed on its own, taken-over rows respected."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import Settings
from kassa.jobs import repository
from kassa.jobs.queue import enqueue, enqueue_many
from kassa.jobs.registry import BatchContext, batch_job, definition_of
from kassa.kit.db import session_scope
from tests.jobs.conftest import eventually, running_worker
from tests.jobs.handlers import Item, Note, record_items
from tests.jobs.test_queue import effects, job_row
from tests.jobs.test_runner import _failed, _history

Sessionmaker = async_sessionmaker[AsyncSession]

pytestmark = pytest.mark.usefixtures("clean_queue")

ENTRYPOINT = "tests.jobs.handlers:record_items"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"entrypoint": ENTRYPOINT, **labels}) or 0.0


async def batches(sessionmaker: Sessionmaker, prefix: str) -> list[list[str]]:
    """The batches that committed, as lists of their items' keys."""
    async with sessionmaker() as session:
        result = await session.execute(
            text("SELECT key FROM job_test_effects WHERE key LIKE :like ORDER BY id"),
            {"like": f"batch:{prefix}%"},
        )
        return [key.removeprefix("batch:").split(",") for (key,) in result]


async def all_effects(sessionmaker: Sessionmaker, keys: list[str]) -> bool:
    return all([await effects(sessionmaker, key) for key in keys])


def test_a_batch_job_is_declared_with_a_list_of_payloads() -> None:
    definition = definition_of(record_items)
    assert definition.payload_type is Item
    assert definition.batch is not None
    assert (definition.batch.max_size, definition.batch.max_in_flight) == (5, 2)
    assert definition.batch.key(Item(key="x", group="g")) == "g"
    with pytest.raises(TypeError, match="list"):
        batch_job()(_not_a_list)
    with pytest.raises(ValueError, match="max_size"):
        batch_job(max_size=0)


async def _not_a_list(ctx: BatchContext, payloads: Note) -> None: ...


async def test_jobs_due_together_run_in_batches_of_their_key(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    red = [Item(key=f"formed-red-{i}", group="red") for i in range(7)]
    blue = [Item(key=f"formed-blue-{i}", group="blue") for i in range(3)]
    started = sample("kassa_jobs_started_total")
    succeeded = sample("kassa_jobs_succeeded_total")
    async with session_scope(jobs_sessionmaker) as session:
        ids = await enqueue_many(session, record_items, [*red, *blue])
    keys = [item.key for item in [*red, *blue]]
    async with running_worker(jobs_database_url, job_settings, concurrency=20, batch_size=10):
        await eventually(lambda: all_effects(jobs_sessionmaker, keys))

    # Each job ran once, on its first attempt, in a batch of its own key, at most 5 at a time.
    for key in keys:
        assert [attempt for attempt, _ in await effects(jobs_sessionmaker, key)] == [1]
    formed = await batches(jobs_sessionmaker, "formed-")
    assert sorted(key for batch in formed for key in batch) == sorted(keys)
    assert all(len({key.split("-")[1] for key in batch}) == 1 for batch in formed)
    assert all(len(batch) <= 5 for batch in formed)
    assert max(len(batch) for batch in formed) > 1
    # Done means gone, with one 'successful' log row per job, and counted per job.
    for job_id in ids:
        assert await job_row(jobs_sessionmaker, job_id) is None
        assert [s for s, _ in await _history(jobs_sessionmaker, job_id)].count("successful") == 1
    assert sample("kassa_jobs_started_total") == started + 10
    assert sample("kassa_jobs_succeeded_total") == succeeded + 10


async def test_a_lone_job_is_a_batch_of_one(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    async with session_scope(jobs_sessionmaker) as session:
        job_id = await enqueue(session, record_items, Item(key="lone"))
    async with running_worker(jobs_database_url, job_settings):
        await eventually(lambda: effects(jobs_sessionmaker, "lone"))
        await eventually(lambda: _gone(jobs_sessionmaker, job_id))
    assert await batches(jobs_sessionmaker, "lone") == [["lone"]]
    assert REGISTRY.get_sample_value("kassa_jobs_running", {"entrypoint": ENTRYPOINT}) == 0


async def _gone(sessionmaker: Sessionmaker, job_id: int) -> bool:
    return await job_row(sessionmaker, job_id) is None


async def test_a_failed_batch_retries_each_of_its_jobs_on_its_own(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    retried = sample("kassa_jobs_retried_total")
    items = [
        Item(key="retry-a", group="retry", fail_until_attempt=1),
        Item(key="retry-b", group="retry"),
        Item(key="retry-c", group="retry"),
    ]
    async with session_scope(jobs_sessionmaker) as session:
        ids = await enqueue_many(session, record_items, items)
    keys = [item.key for item in items]
    async with running_worker(jobs_database_url, job_settings, concurrency=20, batch_size=10):
        await eventually(lambda: all_effects(jobs_sessionmaker, keys))
    # The first batch raised: all of its writes rolled back, and every job went back to the
    # queue with one attempt counted and its backoff (0.2 s), then succeeded on attempt 2.
    for key in keys:
        assert [attempt for attempt, _ in await effects(jobs_sessionmaker, key)] == [2]
    assert sample("kassa_jobs_retried_total") == retried + 3
    for job_id in ids:
        history = await _history(jobs_sessionmaker, job_id)
        picked = [at for status, at in history if status == "picked"]
        requeued = [at for status, at in history if status == "queued"][1:]
        assert len(picked) == 2 and len(requeued) == 1
        assert (picked[1] - requeued[0]).total_seconds() >= 0.2


async def test_a_job_failing_on_its_last_attempt_is_held_failed_with_its_error(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    final = sample("kassa_jobs_failed_total", final="true")
    async with session_scope(jobs_sessionmaker) as session:
        job_id = await enqueue(
            session, record_items, Item(key="doomed-batch", fail_until_attempt=3)
        )
    async with running_worker(jobs_database_url, job_settings):
        row = await eventually(lambda: _failed(jobs_sessionmaker, job_id))
    assert row["attempts"] == 2  # pgqueuer counts retries
    assert await effects(jobs_sessionmaker, "doomed-batch") == []
    async with session_scope(jobs_sessionmaker) as session:
        (failed,) = [f for f in await repository.failed_jobs(session, 10) if f.id == job_id]
    assert failed.error is not None
    assert failed.error["exception_message"] == "planned failure of doomed-batch on attempt 3"
    assert "RuntimeError" in failed.error["traceback"]
    assert sample("kassa_jobs_failed_total", final="true") == final + 1


async def test_an_invalid_stored_payload_fails_its_job_alone_at_once(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    async with session_scope(jobs_sessionmaker) as session:
        bad, good = await enqueue_many(
            session, record_items, [Item(key="corrupted-batch"), Item(key="intact-batch")]
        )
        await session.execute(
            text("UPDATE pgqueuer SET payload = :body WHERE id = :id"),
            {"body": b'{"key": 42}', "id": bad},
        )
    async with running_worker(jobs_database_url, job_settings):
        row = await eventually(lambda: _failed(jobs_sessionmaker, bad))
        await eventually(lambda: effects(jobs_sessionmaker, "intact-batch"))
    assert row["attempts"] == 0
    assert await job_row(jobs_sessionmaker, good) is None


async def test_a_taken_over_job_is_left_to_its_new_owner_and_the_rest_run_again(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    other_worker = uuid.uuid4()
    items = [
        Item(key="taken-1", group="taken", take_over_for=str(other_worker)),
        Item(key="taken-2", group="taken"),
        Item(key="taken-3", group="taken"),
    ]
    async with session_scope(jobs_sessionmaker) as session:
        taken, *kept = await enqueue_many(session, record_items, items)
    patient = job_settings.model_copy(update={"job_heartbeat_timeout_seconds": 60.0})
    async with running_worker(jobs_database_url, patient, concurrency=20, batch_size=10):
        await eventually(lambda: all_effects(jobs_sessionmaker, ["taken-2", "taken-3"]))
    # The batch that held the lost row rolled back whole; the two jobs still ours ran again,
    # so each of their effects exists exactly once.
    assert await batches(jobs_sessionmaker, "taken") == [["taken-2", "taken-3"]]
    assert await effects(jobs_sessionmaker, "taken-1") == []
    for key in ("taken-2", "taken-3"):
        assert [attempt for attempt, _ in await effects(jobs_sessionmaker, key)] == [1]
    row = await job_row(jobs_sessionmaker, taken)
    assert row is not None and row["status"] == "picked"
    assert row["queue_manager_id"] == other_worker
    for job_id in kept:
        assert await job_row(jobs_sessionmaker, job_id) is None
    async with session_scope(jobs_sessionmaker) as session:
        await session.execute(text("DELETE FROM pgqueuer WHERE id = :id"), {"id": taken})


async def test_enqueue_many_takes_one_delay_per_payload(jobs_sessionmaker: Sessionmaker) -> None:
    async with jobs_sessionmaker() as session:
        now, later = await enqueue_many(
            session,
            record_items,
            [Item(key="now"), Item(key="later")],
            execute_after=[None, timedelta(hours=1)],
        )
        delays = await session.execute(
            text("SELECT id, execute_after - now() FROM pgqueuer WHERE id = ANY(:ids)"),
            {"ids": [now, later]},
        )
        by_id: dict[int, timedelta] = {job_id: delay for job_id, delay in delays}
        assert by_id[now] <= timedelta(0)
        assert timedelta(minutes=59) < by_id[later] <= timedelta(hours=1)
        with pytest.raises(ValueError, match="one per payload"):
            await enqueue_many(session, record_items, [Item(key="x")], execute_after=[None, None])
        await session.rollback()
