"""Feeds in a real worker: rows drained in batches when their table notifies, found by the poll
when no notification comes, a failing batch's rows handed to jobs, and a prompt stop."""

from __future__ import annotations

import time

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import Settings
from kassa.jobs import metrics
from kassa.jobs.feeds import feed_definitions
from kassa.kit.db import session_scope
from tests.conftest import TEST_SECRET_KEY
from tests.jobs.conftest import eventually, running_worker
from tests.jobs.handlers import FEED_BATCH, FEED_QUEUE
from tests.jobs.test_queue import effects

Sessionmaker = async_sessionmaker[AsyncSession]

FEED = "tests.jobs.handlers:drain_feed_rows"


@pytest_asyncio.fixture(autouse=True)
async def empty_feed(jobs_sessionmaker: Sessionmaker) -> None:
    async with session_scope(jobs_sessionmaker) as session:
        await session.execute(text("TRUNCATE feed_test_rows"))


def _settings(tmp_path_factory: pytest.TempPathFactory, poll_seconds: float) -> Settings:
    return Settings(
        env="test",
        secret_key=TEST_SECRET_KEY,
        data_dir=tmp_path_factory.mktemp("kassa-feeds"),
        job_heartbeat_timeout_seconds=max(2.0, 2 * poll_seconds),
        job_poll_interval_seconds=poll_seconds,
    )


async def _insert(
    sessionmaker: Sessionmaker, *keys: str, poison: str = "", quiet: bool = False
) -> None:
    """Rows in one transaction; ``quiet``: without the trigger's notification."""
    async with session_scope(sessionmaker) as session:
        if quiet:
            await session.execute(text("SET LOCAL session_replication_role = replica"))
        for key in keys:
            await session.execute(
                text("INSERT INTO feed_test_rows (key, poison) VALUES (:key, :poison)"),
                {"key": key, "poison": key == poison},
            )


async def _batches(sessionmaker: Sessionmaker) -> dict[str, int | None]:
    async with sessionmaker() as session:
        rows = await session.execute(text("SELECT key, batch FROM feed_test_rows"))
        return {key: batch for key, batch in rows}


async def _all_drained(sessionmaker: Sessionmaker) -> bool:
    return all(batch is not None for batch in (await _batches(sessionmaker)).values())


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"feed": FEED, **labels}) or 0.0


def test_a_feed_is_registered_under_its_queue() -> None:
    [definition] = feed_definitions({FEED_QUEUE})
    assert definition.name == FEED
    assert definition.batch_size == FEED_BATCH
    import kassa.payments.jobs  # noqa: F401 -- the worker imports it (kassa.jobs.handlers)

    inbox = [f.name for f in feed_definitions({"default"})]
    assert inbox == ["kassa.payments.jobs:settle_inbox"]


async def test_rows_are_drained_in_batches_when_their_table_notifies(
    jobs_database_url: str,
    jobs_sessionmaker: Sessionmaker,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A poll far longer than the wait: only the notification can bring the rows in time.
    settings = _settings(tmp_path_factory, poll_seconds=30.0)
    rows_before = _sample("kassa_feed_rows_total")
    async with running_worker(jobs_database_url, settings, queues=[FEED_QUEUE]):
        await _insert(jobs_sessionmaker, "early")  # drained as the worker starts, or after
        await eventually(lambda: _all_drained(jobs_sessionmaker), within=10.0)
        await _insert(jobs_sessionmaker, *(f"row{n}" for n in range(12)))
        await eventually(lambda: _all_drained(jobs_sessionmaker), within=10.0)
    batches = await _batches(jobs_sessionmaker)
    sizes: dict[int | None, int] = {}
    for batch in batches.values():
        sizes[batch] = sizes.get(batch, 0) + 1
    assert max(sizes.values()) <= FEED_BATCH
    assert len(sizes) >= -(-13 // FEED_BATCH)
    assert _sample("kassa_feed_rows_total") - rows_before == 13


async def test_rows_without_a_notification_are_found_by_the_poll(
    jobs_database_url: str,
    jobs_sessionmaker: Sessionmaker,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = _settings(tmp_path_factory, poll_seconds=0.3)
    async with running_worker(jobs_database_url, settings, queues=[FEED_QUEUE]):
        await _insert(jobs_sessionmaker, "quiet1", "quiet2", quiet=True)
        await eventually(lambda: _all_drained(jobs_sessionmaker), within=5.0)


async def test_a_failing_batch_hands_its_rows_to_jobs_and_the_feed_goes_on(
    jobs_database_url: str,
    jobs_sessionmaker: Sessionmaker,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = _settings(tmp_path_factory, poll_seconds=0.3)
    failed_before = _sample("kassa_feed_batches_total", outcome="failed")
    async with running_worker(jobs_database_url, settings, queues=[FEED_QUEUE]):
        await _insert(jobs_sessionmaker, "good1", "bad", "good2", poison="bad")
        for key in ("good1", "bad", "good2"):
            await eventually(lambda key=key: effects(jobs_sessionmaker, f"handed:{key}"))
        await _insert(jobs_sessionmaker, "later")

        async def later_done() -> bool:
            return (await _batches(jobs_sessionmaker)).get("later") is not None

        await eventually(later_done)
    batches = await _batches(jobs_sessionmaker)
    # The failed batch rolled back: none of its rows carries its mark.
    assert [batches[key] for key in ("good1", "bad", "good2")] == [None, None, None]
    assert _sample("kassa_feed_batches_total", outcome="failed") - failed_before >= 1


async def test_a_batch_that_lost_a_conflict_runs_again_without_a_hand_off(
    jobs_database_url: str,
    jobs_sessionmaker: Sessionmaker,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = _settings(tmp_path_factory, poll_seconds=0.3)
    async with running_worker(jobs_database_url, settings, queues=[FEED_QUEUE]):
        # One conflict raised through the ORM, one on the plain asyncpg connection.
        await _insert(jobs_sessionmaker, "conflicted", "conflicted_orm", "beside")
        await eventually(lambda: _all_drained(jobs_sessionmaker), within=5.0)
    assert await effects(jobs_sessionmaker, "conflicted:conflicted")  # it did fail once
    assert await effects(jobs_sessionmaker, "conflicted:conflicted_orm")
    assert not await effects(jobs_sessionmaker, "handed:conflicted")
    assert not await effects(jobs_sessionmaker, "handed:conflicted_orm")
    assert not await effects(jobs_sessionmaker, "handed:beside")


async def test_the_worker_publishes_each_feeds_backlog(
    jobs_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = _settings(tmp_path_factory, poll_seconds=30.0)
    # Values no worker would publish: an earlier test's worker may have set the gauges.
    metrics.FEED_BACKLOG.labels(FEED).set(-1)
    metrics.FEED_OLDEST.labels(FEED).set(-1)
    async with running_worker(jobs_database_url, settings, queues=[FEED_QUEUE]):

        async def published() -> bool:
            return REGISTRY.get_sample_value("kassa_feed_backlog", {"feed": FEED}) != -1

        await eventually(published)
    assert REGISTRY.get_sample_value("kassa_feed_backlog", {"feed": FEED}) == 0.0
    assert REGISTRY.get_sample_value("kassa_feed_oldest_seconds", {"feed": FEED}) == 0.0


async def test_a_worker_with_a_feed_stops_promptly(
    jobs_database_url: str,
    jobs_sessionmaker: Sessionmaker,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    settings = _settings(tmp_path_factory, poll_seconds=30.0)
    async with running_worker(jobs_database_url, settings, queues=[FEED_QUEUE]) as worker:
        await _insert(jobs_sessionmaker, "running")  # drained: the feed is running
        await eventually(lambda: _all_drained(jobs_sessionmaker))
        started = time.monotonic()
        worker.stop()
    assert time.monotonic() - started < 5.0
