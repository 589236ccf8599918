"""Declaring jobs, and the schema the migration installs."""

from __future__ import annotations

import asyncpg
import pytest
from alembic import command

from kassa import migrate
from kassa.config import Settings
from kassa.jobs.registry import JobContext, definition_of, job, periodic
from kassa.kit.db import create_engine
from tests.conftest import TEST_SECRET_KEY, _libpq_kwargs
from tests.jobs.conftest import DatabaseFactory, run_blocking
from tests.jobs.handlers import Note, record


def test_a_job_is_named_after_its_function_and_typed_by_its_payload_annotation() -> None:
    definition = definition_of(record)
    assert definition.name == "tests.jobs.handlers:record"
    assert definition.payload_type is Note
    assert (definition.max_attempts, definition.queue) == (3, "default")


def test_handlers_that_a_worker_could_not_run_are_refused() -> None:
    with pytest.raises(TypeError, match="module-level"):

        @job()
        async def nested(ctx: JobContext, payload: Note) -> None: ...

    with pytest.raises(TypeError, match="async def"):
        job()(_sync_handler)
    with pytest.raises(TypeError, match="BaseModel"):
        job()(_untyped_handler)
    with pytest.raises(ValueError, match="cron"):
        periodic("every minute")
    with pytest.raises(ValueError, match="max_attempts"):
        job(max_attempts=0)


def _sync_handler(ctx: JobContext, payload: Note) -> None: ...


async def _untyped_handler(ctx: JobContext, payload: dict[str, int]) -> None: ...


def test_the_migration_installs_and_removes_pgqueuer(new_database: DatabaseFactory) -> None:
    url = new_database()
    objects = """
        SELECT array_agg(name ORDER BY name) FROM (
            SELECT tablename AS name FROM pg_tables
            WHERE tablename LIKE 'pgqueuer%' OR tablename = 'job_periodic_runs'
            UNION ALL SELECT typname FROM pg_type WHERE typname = 'pgqueuer_status'
            UNION ALL SELECT proname FROM pg_proc WHERE proname = 'fn_pgqueuer_changed'
            UNION ALL SELECT tgname FROM pg_trigger WHERE tgname = 'tg_pgqueuer_changed'
        ) installed
    """

    async def installed() -> list[str]:
        connection = await asyncpg.connect(**_libpq_kwargs(url))  # type: ignore[arg-type]
        try:
            return list(await connection.fetchval(objects) or [])
        finally:
            await connection.close()

    async def downgrade_to_0001() -> None:
        engine = create_engine(url, Settings(secret_key=TEST_SECRET_KEY))

        def run(connection: object) -> None:
            config = migrate.alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")

        try:
            async with engine.begin() as connection:
                await connection.run_sync(run)
        finally:
            await engine.dispose()

    assert run_blocking(installed()) == [
        "fn_pgqueuer_changed",
        "job_periodic_runs",
        "pgqueuer",
        "pgqueuer_log",
        "pgqueuer_schedules",
        "pgqueuer_statistics",
        "pgqueuer_status",
        "tg_pgqueuer_changed",
    ]
    run_blocking(downgrade_to_0001())
    assert run_blocking(installed()) == []
