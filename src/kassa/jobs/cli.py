"""``kassa worker`` and ``kassa jobs``: run background jobs, list and retry failed ones."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import get_settings
from kassa.kit import loop as event_loop

T = TypeVar("T")


def _database_url() -> str:
    from kassa.cli import _database_url as resolve

    return resolve(get_settings())


@click.command()
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="Jobs at once.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Jobs per dequeue.")
@click.option("--consumers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--queue", "queues", multiple=True, help="Only these queues (repeat); default all.")
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus metrics here.")
def worker(
    concurrency: int | None,
    batch_size: int | None,
    consumers: int,
    queues: tuple[str, ...],
    metrics_port: int | None,
) -> None:
    """Run background jobs. SIGTERM or SIGINT: take no new jobs, finish running ones, exit 0."""
    from prometheus_client import start_http_server

    from kassa import migrate
    from kassa.jobs.worker import Worker
    from kassa.kit.db import create_engine

    settings = get_settings()
    url = _database_url()

    async def run() -> None:
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        engine = create_engine(url, settings)
        try:
            current = await migrate.is_current(engine)
        finally:
            await engine.dispose()
        if not current:
            raise click.ClickException("The database schema is not current: run `kassa migrate`.")
        await Worker(
            url,
            settings,
            concurrency=concurrency or settings.worker_concurrency,
            batch_size=batch_size or settings.worker_batch_size,
            consumers=consumers,
            queues=queues,
            handle_signals=True,
        ).run()

    if metrics_port is not None:
        start_http_server(metrics_port)
    _freeze_start_up_objects(settings.job_modules)
    event_loop.run(run())


def _freeze_start_up_objects(job_modules: list[str]) -> None:
    import kassa.jobs.handlers

    kassa.jobs.handlers.load(job_modules)
    event_loop.freeze_start_up_objects()


@click.group()
def jobs() -> None:
    """Inspect background jobs held in the failed state, and retry them."""


@jobs.command("failed")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def failed(limit: int, as_json: bool) -> None:
    """List jobs that failed their last attempt, most recent first."""
    from kassa.jobs import repository
    from kassa.kit.db import session_scope

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> list[repository.FailedJob]:
        async with session_scope(sessionmaker) as session:
            return await repository.failed_jobs(session, limit)

    for row in _with_sessionmaker(work):
        error = row.error or {}
        if as_json:
            payload = json.loads(row.payload) if row.payload else None
            record = {
                "id": row.id,
                "entrypoint": row.entrypoint,
                "attempts": row.attempts,
                "created": row.created.isoformat(),
                "failed_at": row.failed_at.isoformat(),
                "payload": payload,
                "error": {k: error.get(k) for k in ("exception_type", "exception_message")},
                "traceback": error.get("traceback"),
            }
            click.echo(json.dumps(record))
        else:
            click.echo(
                f"{row.id}  {row.entrypoint}  attempts={row.attempts}  "
                f"failed_at={row.failed_at.isoformat()}  "
                f"{error.get('exception_type', '?')}: {error.get('exception_message', '')}"
            )


@jobs.command("retry")
@click.argument("job_ids", type=int, nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed job.")
def retry(job_ids: tuple[int, ...], retry_all: bool) -> None:
    """Queue failed jobs again, with a fresh count of attempts."""
    from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
    from pgqueuer.adapters.persistence.queries import Queries
    from pgqueuer.domain.types import JobId

    from kassa.jobs import repository, schema
    from kassa.kit import sql
    from kassa.kit.db import session_scope

    if bool(job_ids) == retry_all:
        raise click.UsageError("Give JOB_ID... or --all.")

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> list[int]:
        async with session_scope(sessionmaker) as session:
            ids = await repository.lock_failed_jobs(session, None if retry_all else job_ids)
            if ids:
                connection = await sql.connection(session)
                queries = Queries(
                    AsyncpgDriver(connection), qbe=schema.QBE, qbq=schema.queue_builder()
                )
                await queries.requeue_jobs([JobId(i) for i in ids])
            return ids

    requeued = _with_sessionmaker(work)
    missing = sorted(set(job_ids) - set(requeued))
    click.echo(f"Requeued {len(requeued)} job(s)" + (f": {requeued}" if requeued else ""))
    if missing:
        raise click.ClickException(f"Not in the failed state: {missing}")


def _with_sessionmaker(work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    from kassa.cli import _with_sessionmaker as run

    return run(get_settings(), work)
