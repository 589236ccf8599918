"""Databases of their own for the job tests (workers take every job they see), and helpers."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import Settings
from kassa.jobs.worker import Worker
from kassa.kit.db import create_engine, create_sessionmaker
from tests.conftest import TEST_SECRET_KEY, _libpq_kwargs, create_database, drop_database
from tests.jobs.handlers import EFFECTS_DDL

DatabaseFactory = Callable[[], str]


@pytest.fixture(scope="session")
def new_database(database_url: str) -> Iterator[DatabaseFactory]:
    """Create fresh migrated databases (with the effects table) on the test server."""
    created: list[str] = []

    async def create(name: str) -> str:
        url = await create_database(database_url, name)
        connection = await asyncpg.connect(**_libpq_kwargs(url))  # type: ignore[arg-type]
        try:
            await connection.execute(EFFECTS_DDL)
        finally:
            await connection.close()
        return url

    def factory() -> str:
        name = f"kassa_jobs_{secrets.token_hex(4)}"
        url: str = run_blocking(create(name))
        created.append(name)
        return url

    yield factory

    async def drop() -> None:
        for name in created:
            await drop_database(database_url, name)

    run_blocking(drop())


def run_blocking(coroutine: Awaitable[Any]) -> Any:
    """Run a coroutine to completion from sync code, even when a loop already runs here."""
    result: list[Any] = []

    async def main() -> None:
        result.append(await coroutine)

    import threading

    thread = threading.Thread(target=lambda: asyncio.run(main()))
    thread.start()
    thread.join()
    return result[0] if result else None


@pytest.fixture(scope="session")
def jobs_database_url(new_database: DatabaseFactory) -> str:
    """One database shared by the in-process job tests."""
    return new_database()


@pytest.fixture(scope="session")
def job_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        secret_key=TEST_SECRET_KEY,
        data_dir=tmp_path_factory.mktemp("kassa-jobs"),
        job_heartbeat_timeout_seconds=1.0,
    )


@pytest_asyncio.fixture(scope="session")
async def jobs_sessionmaker(
    jobs_database_url: str, job_settings: Settings
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(jobs_database_url, job_settings)
    yield create_sessionmaker(engine)
    await engine.dispose()


@asynccontextmanager
async def running_worker(url: str, settings: Settings, **options: Any) -> AsyncIterator[Worker]:
    worker = Worker(url, settings, concurrency=options.pop("concurrency", 4), **options)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 15)


async def eventually(
    check: Callable[[], Awaitable[Any]], within: float = 10.0, interval: float = 0.05
) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {value!r})")
        await asyncio.sleep(interval)


@pytest_asyncio.fixture
async def clean_queue(jobs_sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Start from an empty queue: an in-process worker takes every job it finds."""
    async with jobs_sessionmaker() as session:
        await session.execute(text("TRUNCATE pgqueuer, pgqueuer_log, job_periodic_runs"))
        await session.commit()
