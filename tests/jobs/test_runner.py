"""Running jobs in-process: transactions, retries with backoff, the failed state, metrics."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pgqueuer.domain.models import Schedule
from pgqueuer.domain.types import CronEntrypoint, CronExpression, ScheduleId
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import Settings
from kassa.jobs import maintenance, repository
from kassa.jobs.periodic import fire
from kassa.jobs.queue import enqueue, enqueue_definition
from kassa.jobs.registry import Backoff, PeriodicRun, definition_of, periodic_definitions
from kassa.kit.db import session_scope
from tests.jobs.conftest import eventually, running_worker
from tests.jobs.handlers import Note, Nothing, Takeover, no_database, record, taken_over_midway
from tests.jobs.test_queue import effects, job_row

Sessionmaker = async_sessionmaker[AsyncSession]

pytestmark = pytest.mark.usefixtures("clean_queue")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_backoff_is_exponential_with_full_jitter() -> None:
    backoff = Backoff(base_seconds=1.0, factor=2.0, max_seconds=10.0)
    rng = random.Random(7)
    for attempt, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)]:
        assert backoff.cap(attempt) == cap
        delays = [backoff.delay(attempt, rng).total_seconds() for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert min(delays) < cap * 0.1 and max(delays) > cap * 0.9  # spread over [0, cap]
    exact = Backoff(base_seconds=0.5, factor=3.0, jitter=False)
    assert [exact.delay(n).total_seconds() for n in (1, 2, 3)] == [0.5, 1.5, 4.5]


async def test_a_failing_job_retries_with_backoff_then_succeeds_on_a_later_attempt(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    entrypoint = "tests.jobs.handlers:record"
    retried = sample("kassa_jobs_retried_total", entrypoint=entrypoint)
    async with session_scope(jobs_sessionmaker) as session:
        job_id = await enqueue(session, record, Note(key="flaky", fail_until_attempt=2))
    async with running_worker(jobs_database_url, job_settings):
        await eventually(lambda: effects(jobs_sessionmaker, "flaky"))
    # Attempts 1 and 2 wrote the same effect but raised: their writes rolled back.
    assert [attempt for attempt, _ in await effects(jobs_sessionmaker, "flaky")] == [3]
    assert sample("kassa_jobs_retried_total", entrypoint=entrypoint) == retried + 2

    # Each retry was due no sooner than its backoff (0.2 s, then 0.4 s; no jitter here).
    history = await _history(jobs_sessionmaker, job_id)
    requeued = [at for status, at in history if status == "queued"][1:]  # [0] is the enqueue
    picked = [at for status, at in history if status == "picked"]
    assert len(picked) == 3 and len(requeued) == 2
    for delay, retry_at, next_pick in zip((0.2, 0.4), requeued, picked[1:], strict=True):
        assert (next_pick - retry_at).total_seconds() >= delay


async def _history(sessionmaker: Sessionmaker, job_id: int) -> list[tuple[str, datetime]]:
    async with sessionmaker() as session:
        result = await session.execute(
            text("SELECT status, created FROM pgqueuer_log WHERE job_id = :id ORDER BY id"),
            {"id": job_id},
        )
        return [(str(status), created) for status, created in result]


async def test_after_max_attempts_the_job_is_held_failed_with_its_error_until_retried(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    final = sample("kassa_jobs_failed_total", entrypoint="tests.jobs.handlers:record", final="true")
    async with session_scope(jobs_sessionmaker) as session:
        job_id = await enqueue(session, record, Note(key="doomed", fail_until_attempt=3))
    async with running_worker(jobs_database_url, job_settings):
        row = await eventually(lambda: _failed(jobs_sessionmaker, job_id))
        assert await effects(jobs_sessionmaker, "doomed") == []
        async with session_scope(jobs_sessionmaker) as session:
            (failed,) = [f for f in await repository.failed_jobs(session, 10) if f.id == job_id]
        assert failed.entrypoint == "tests.jobs.handlers:record"
        assert failed.attempts == 3 and row["attempts"] == 2  # pgqueuer counts retries
        assert failed.payload is not None and b'"doomed"' in failed.payload
        assert failed.error is not None
        assert failed.error["exception_message"] == "planned failure on attempt 3"
        assert "RuntimeError" in failed.error["traceback"]
        assert (
            sample("kassa_jobs_failed_total", entrypoint="tests.jobs.handlers:record", final="true")
            == final + 1
        )
        # Still there a while later: failed is a terminal state, not a retry.
        await eventually(lambda: _failed(jobs_sessionmaker, job_id), within=0.5)


async def _failed(sessionmaker: Sessionmaker, job_id: int) -> dict[str, object] | None:
    row = await job_row(sessionmaker, job_id)
    return row if row is not None and row["status"] == "failed" else None


async def test_writes_roll_back_when_another_worker_took_the_job_over(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    other_worker = uuid.uuid4()
    async with session_scope(jobs_sessionmaker) as session:
        job_id = await enqueue(
            session, taken_over_midway, Takeover(key="taken", new_owner=str(other_worker))
        )
    patient = job_settings.model_copy(update={"job_heartbeat_timeout_seconds": 60.0})
    async with running_worker(jobs_database_url, patient):
        await eventually(lambda: _owned_by(jobs_sessionmaker, job_id, other_worker))
    # The worker has stopped, after finishing that run and flushing pgqueuer's batches. Our
    # run's write rolled back, and the row is left to its new owner, untouched.
    assert await effects(jobs_sessionmaker, "taken") == []
    row = await job_row(jobs_sessionmaker, job_id)
    assert row is not None and row["status"] == "picked"
    assert row["queue_manager_id"] == other_worker
    assert not await _log_has(jobs_sessionmaker, job_id, "successful")


async def _owned_by(sessionmaker: Sessionmaker, job_id: int, owner: uuid.UUID) -> bool:
    row = await job_row(sessionmaker, job_id)
    return row is not None and row["queue_manager_id"] == owner


async def _log_has(sessionmaker: Sessionmaker, job_id: int, status: str) -> bool:
    return any(s == status for s, _ in await _history(sessionmaker, job_id))


async def test_a_job_without_database_work_is_completed_by_pgqueuer(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    async with session_scope(jobs_sessionmaker) as session:
        job_id = await enqueue(session, no_database, Nothing())
    async with running_worker(jobs_database_url, job_settings):
        await eventually(lambda: _log_has(jobs_sessionmaker, job_id, "successful"))
    assert await job_row(jobs_sessionmaker, job_id) is None


async def test_an_invalid_stored_payload_fails_at_once_without_retries(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    async with session_scope(jobs_sessionmaker) as session:
        job_id = await enqueue(session, record, Note(key="corrupted"))
        await session.execute(
            text("UPDATE pgqueuer SET payload = :body WHERE id = :id"),
            {"body": b'{"key": 42}', "id": job_id},
        )
    async with running_worker(jobs_database_url, job_settings):
        row = await eventually(lambda: _failed(jobs_sessionmaker, job_id))
    assert row["attempts"] == 0


async def test_metrics_follow_a_job_from_queue_to_success(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    labels = {"entrypoint": "tests.jobs.handlers:record"}
    names = (
        "kassa_jobs_started_total",
        "kassa_jobs_succeeded_total",
        "kassa_job_queue_latency_seconds_count",
        "kassa_job_duration_seconds_count",
    )
    before = {name: REGISTRY.get_sample_value(name, labels) or 0.0 for name in names}
    async with session_scope(jobs_sessionmaker) as session:
        await enqueue(session, record, Note(key="measured"))
        # A deferred job counts as queued in the depth gauge.
        await enqueue(session, record, Note(key="later"), execute_after=timedelta(hours=1))
    async with running_worker(jobs_database_url, job_settings):
        await eventually(lambda: effects(jobs_sessionmaker, "measured"))
        await eventually(
            lambda: _sampled("kassa_jobs_in_queue", {**labels, "status": "queued"}), within=3
        )
    after = {name: REGISTRY.get_sample_value(name, labels) or 0.0 for name in names}
    assert all(after[name] == before[name] + 1 for name in names), (before, after)
    assert REGISTRY.get_sample_value("kassa_jobs_running", labels) == 0


async def _sampled(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_one_run_per_period_however_often_the_scheduler_fires(
    jobs_sessionmaker: Sessionmaker,
) -> None:
    (periodic,) = [p for p in periodic_definitions() if p.func is maintenance.prune_job_log]
    now = datetime(2026, 11, 25, 10, 41, 0, 300_000, tzinfo=UTC)

    def schedule(next_run: datetime) -> Schedule:
        return Schedule(
            id=ScheduleId(1),
            expression=CronExpression(periodic.cron),
            heartbeat=now,
            created=now,
            updated=now,
            next_run=next_run,
            status="picked",
            entrypoint=CronEntrypoint(periodic.name),
        )

    # The 10:41 period fired normally, then again after a crash (same row state), then by a
    # worker whose clock ran a second behind; then the 11:41 period. Each time, its job has
    # already run and left the queue, so only the ledger can refuse the repeats.
    for next_run in ("11:41:00", "11:41:00", "11:40:59", "12:41:00"):
        hours, minutes, seconds = (int(part) for part in next_run.split(":"))
        at = now.replace(hour=hours, minute=minutes, second=seconds, microsecond=0)
        await fire(jobs_sessionmaker, periodic, schedule(at))
        async with session_scope(jobs_sessionmaker) as session:
            await session.execute(text("DELETE FROM pgqueuer"))
    async with jobs_sessionmaker() as session:
        runs = await session.execute(
            text("SELECT scheduled_for FROM job_periodic_runs WHERE name = :name ORDER BY 1"),
            {"name": periodic.name},
        )
        enqueued = await session.execute(
            text(
                "SELECT count(*) FROM pgqueuer_log WHERE entrypoint = :name AND status = 'queued'"
            ),
            {"name": periodic.name},
        )
        assert [r.astimezone(UTC).strftime("%H:%M") for (r,) in runs] == ["10:41", "11:41"]
        assert enqueued.scalar_one() == 2


async def test_a_periodic_job_can_be_enqueued_like_any_job(
    jobs_sessionmaker: Sessionmaker,
) -> None:
    (periodic,) = [p for p in periodic_definitions() if p.func is maintenance.prune_job_log]
    with pytest.raises(LookupError):
        definition_of(maintenance.prune_job_log)
    async with jobs_sessionmaker() as session:
        (job_id,) = await enqueue_definition(
            session, periodic.job, [PeriodicRun(scheduled_for=datetime.now(UTC))]
        )
        assert job_id > 0
        await session.rollback()


async def test_the_worker_reconnects_after_losing_its_database_connections(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    async with running_worker(jobs_database_url, job_settings):
        async with session_scope(jobs_sessionmaker) as session:
            await enqueue(session, record, Note(key="before-outage"))
        await eventually(lambda: effects(jobs_sessionmaker, "before-outage"))
        async with jobs_sessionmaker() as session:
            killed = await session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'kassa-worker' AND datname = current_database()"
                )
            )
            assert len(killed.all()) >= 1
        async with session_scope(jobs_sessionmaker) as session:
            await enqueue(session, record, Note(key="after-outage"))
        await eventually(lambda: effects(jobs_sessionmaker, "after-outage"), within=15)


async def test_a_worker_runs_only_the_queues_it_was_given(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    async with session_scope(jobs_sessionmaker) as session:
        job_id = await enqueue(session, record, Note(key="default-queue"))
    async with running_worker(jobs_database_url, job_settings, queues=["elsewhere"]):
        await _pause(0.5)
    assert (await job_row(jobs_sessionmaker, job_id) or {}).get("status") == "queued"


async def _pause(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def test_a_job_cancelled_mid_run_is_left_for_another_run_not_deleted(
    jobs_sessionmaker: Sessionmaker, jobs_database_url: str, job_settings: Settings
) -> None:
    async with session_scope(jobs_sessionmaker) as session:
        job_id = await enqueue(session, record, Note(key="cancelled", sleep=30))
    labels = {"entrypoint": "tests.jobs.handlers:record"}
    async with running_worker(jobs_database_url, job_settings):
        await eventually(lambda: _sampled("kassa_jobs_running", labels))
        # What the end of an event loop does to the tasks still running on it.
        (dispatch,) = [
            task
            for task in asyncio.all_tasks()
            if task.get_coro().__qualname__ == "QueueManager._dispatch"  # type: ignore[union-attr]
        ]
        dispatch.cancel()
        await asyncio.wait([dispatch])
        await _pause(0.3)  # pgqueuer's batch of finished jobs has been flushed
        assert (await job_row(jobs_sessionmaker, job_id) or {}).get("status") == "picked"
    async with session_scope(jobs_sessionmaker) as session:
        await session.execute(
            text("UPDATE pgqueuer SET payload = :body WHERE id = :id"),
            {"body": Note(key="cancelled").model_dump_json().encode(), "id": job_id},
        )
    async with running_worker(jobs_database_url, job_settings):
        await eventually(lambda: effects(jobs_sessionmaker, "cancelled"))


async def test_pruning_the_log_keeps_recent_rows_and_the_errors_of_failed_jobs(
    jobs_sessionmaker: Sessionmaker,
) -> None:
    old = datetime.now(UTC) - timedelta(days=30)
    async with session_scope(jobs_sessionmaker) as session:
        failed_id = await enqueue(session, record, Note(key="kept-failed"))
        await session.execute(
            text("UPDATE pgqueuer SET status = 'failed' WHERE id = :id"), {"id": failed_id}
        )
        await session.execute(
            text(
                "INSERT INTO pgqueuer_log (created, job_id, status, priority, entrypoint, "
                "aggregated) VALUES (:old, :failed, 'failed', 0, 'x', true), "
                "(:old, -1, 'successful', 0, 'x', true), (:old, -2, 'successful', 0, 'x', false), "
                "(now(), -3, 'successful', 0, 'x', true)"
            ),
            {"old": old, "failed": failed_id},
        )
        deleted = await repository.prune_log(session, before=old + timedelta(days=1))
        kept = await session.execute(
            text("SELECT job_id FROM pgqueuer_log WHERE entrypoint = 'x' ORDER BY job_id")
        )
        assert deleted == 1
        assert sorted(job_id for (job_id,) in kept) == sorted([-2, -3, failed_id])
        await session.rollback()
