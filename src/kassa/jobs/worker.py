"""The worker: pgqueuer consumers running every registered job, the periodic scheduler, and
the feeds (``kassa.jobs.feeds``), which share one LISTEN connection.

Stalled jobs: every running job's row gets a heartbeat (pgqueuer, every half
``job_heartbeat_timeout_seconds``); a dequeue also claims ``picked`` rows whose heartbeat is
older than the timeout. A job whose worker was SIGKILLed therefore runs again on another
worker after at most timeout + one poll (``job_poll_interval_seconds``, at most half the
timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import structlog
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.core.qm import QueueManager
from pgqueuer.core.sm import SchedulerManager
from pgqueuer.domain import models, types
from sqlalchemy.ext.asyncio import AsyncEngine

from kassa.config import Settings
from kassa.jobs import metrics, periodic, registry, schema
from kassa.jobs.feeds import FeedConsumer, feed_definitions
from kassa.jobs.registry import JobDefinition, job_definitions, periodic_definitions
from kassa.jobs.runner import JobRunner, KassaQueries
from kassa.kit.db import create_engine, create_sessionmaker

log = structlog.get_logger("kassa.jobs")

DEPTH_INTERVAL = 15.0
MIN_POLL_INTERVAL = timedelta(milliseconds=20)
_RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
_CONNECTION_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed"
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, restart, not yet accepting
    asyncpg.exceptions.TooManyConnectionsError,
)


class Worker:
    """Runs jobs until ``stop()`` (or SIGTERM/SIGINT with ``handle_signals=True``).

    ``stop()`` is graceful: no new jobs are taken, the running ones finish, then ``run()``
    returns. Inside another program that owns the signals (the API server's lifespan), keep
    ``handle_signals=False`` and call ``stop()`` from its shutdown.
    """

    def __init__(
        self,
        database_url: str,
        settings: Settings,
        *,
        concurrency: int,
        batch_size: int = 10,
        consumers: int = 1,
        queues: Sequence[str] | None = None,
        handle_signals: bool = False,
    ) -> None:
        if concurrency < 1 or batch_size < 1 or consumers < 1:
            raise ValueError("concurrency, batch_size and consumers must be at least 1")
        self.database_url = database_url
        self.settings = settings
        self.concurrency = concurrency
        self.consumers = consumers
        self.queues = set(queues) if queues else None
        self.handle_signals = handle_signals
        per_consumer = -(-concurrency // consumers)
        # pgqueuer wants its per-consumer cap to be at least twice the batch.
        self.batch_size = min(batch_size, max(1, per_consumer // 2))
        self.max_picked = max(per_consumer, 2 * self.batch_size)
        self.heartbeat_timeout = timedelta(seconds=settings.job_heartbeat_timeout_seconds)
        # New jobs arrive by NOTIFY at once; the poll finds jobs whose retry delay has passed
        # (e.g. a settlement waiting for its payment to commit) and stalled ones.
        self.poll_interval = min(
            self.heartbeat_timeout / 2, timedelta(seconds=settings.job_poll_interval_seconds)
        )
        self._stopping = asyncio.Event()
        self._managers: list[QueueManager | SchedulerManager] = []
        self._feeds: list[FeedConsumer] = []

    def stop(self) -> None:
        if not self._stopping.is_set():
            log.info("worker_stopping")
        self._stopping.set()
        for manager in self._managers:
            manager.shutdown.set()
        for feed in self._feeds:
            feed.stop()

    async def run(self) -> None:
        import kassa.jobs.handlers

        kassa.jobs.handlers.load(self.settings.job_modules)
        engine = self._create_engine()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT) if self.handle_signals else ()
        for sig in signals:
            loop.add_signal_handler(sig, self.stop)
        try:
            await self._run_until_stopped(engine)
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            await engine.dispose()
            await registry.run_shutdown_hooks()

    def _create_engine(self) -> AsyncEngine:
        """The engine of job sessions. A lost database connection disposes the pool."""
        feeds = sum(feed.in_flight for feed in feed_definitions(self.queues))
        return create_engine(
            self.database_url,
            self.settings,
            # A running job holds at most one connection, as does a feed's batch; one more for
            # the scheduler's fires.
            pool_size=self.concurrency + feeds + 1,
            max_overflow=0,
            application_name="kassa-worker",
        )

    async def _run_until_stopped(self, engine: AsyncEngine) -> None:
        """Serve; on a lost database connection, reconnect with backoff until stopped."""
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._serve(engine)
                return
            except _CONNECTION_ERRORS as error:
                delay = _RECONNECT_DELAYS[min(failures, len(_RECONNECT_DELAYS) - 1)]
                failures += 1
                log.error("worker_connection_lost", error=repr(error), retry_in=delay)
                await engine.dispose()  # its connections died with the server's
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    async def _serve(self, engine: AsyncEngine) -> None:
        sessionmaker = create_sessionmaker(engine)
        runner = JobRunner(sessionmaker, self.concurrency)
        definitions = job_definitions(self.queues)
        periodics = periodic_definitions(self.queues)
        feeds = feed_definitions(self.queues)
        _, connect_kwargs = engine.dialect.create_connect_args(engine.url)
        connections: list[asyncpg.Connection[Any]] = []
        try:
            for _ in range(self.consumers):
                connections.append(await _connect(connect_kwargs))
            consumers = [_consumer(c, runner, definitions) for c in connections]
            feed_consumers: list[FeedConsumer] = []
            if feeds:
                listener = await _connect(connect_kwargs)
                connections.append(listener)
                poll = self.poll_interval.total_seconds()
                feed_consumers = [
                    FeedConsumer(feed, sessionmaker, listener, poll) for feed in feeds
                ]
                for feed_consumer in feed_consumers:
                    await feed_consumer.listen()
            scheduler = periodic.scheduler(consumers[0].queries, sessionmaker, periodics)
            self._managers = [*consumers, *([scheduler] if scheduler else [])]
            self._feeds = feed_consumers
            if self._stopping.is_set():
                return
            log.info(
                "worker_started",
                jobs=len(definitions),
                periodic=len(periodics),
                feeds=len(feeds),
                concurrency=self.concurrency,
                consumers=self.consumers,
                batch_size=self.batch_size,
            )
            await self._run_managers(consumers, scheduler, feed_consumers)
        finally:
            self._managers = []
            self._feeds = []
            for connection in connections:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=5)

    async def _run_managers(
        self,
        consumers: list[QueueManager],
        scheduler: SchedulerManager | None,
        feeds: list[FeedConsumer],
    ) -> None:
        runs = [
            consumer.run(
                dequeue_timeout=self.poll_interval,
                batch_size=self.batch_size,
                max_concurrent_tasks=self.max_picked,
                heartbeat_timeout=self.heartbeat_timeout,
            )
            for consumer in consumers
        ]
        tasks = [asyncio.create_task(run) for run in runs]
        if scheduler is not None:
            tasks.append(asyncio.create_task(scheduler.run()))
        tasks += [asyncio.create_task(feed.run()) for feed in feeds]
        depth = asyncio.create_task(_refresh_depth(consumers[0], feeds, self._stopping))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for manager in self._managers:
                manager.shutdown.set()
            for feed in feeds:
                feed.stop()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            depth.cancel()
            await asyncio.gather(depth, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        if not self._stopping.is_set():
            raise RuntimeError("job consumers stopped unexpectedly")


async def _connect(connect_kwargs: Mapping[str, Any]) -> asyncpg.Connection[Any]:
    settings = {"application_name": "kassa-worker", "timezone": "UTC"}
    connection: asyncpg.Connection[Any] = await asyncpg.connect(
        **connect_kwargs, server_settings=settings
    )
    return connection


def _consumer(
    connection: asyncpg.Connection[Any], runner: JobRunner, definitions: list[JobDefinition]
) -> QueueManager:
    queries = KassaQueries(
        AsyncpgDriver(connection), qbe=schema.QBE, qbq=schema.queue_builder(), qbs=schema.QBS
    )
    manager = QueueManager(queries, types.Channel(schema.SETTINGS.channel))
    # When a dequeue leaves eligible jobs behind (their wake-up was consumed meanwhile, or this
    # worker is at its concurrency cap), look again after this long rather than pgqueuer's
    # 100 ms: that wait showed as the slowest checkouts' settlement latency.
    manager.min_dequeue_poll_interval = MIN_POLL_INTERVAL
    owner = manager.queue_manager_id
    for definition in definitions:

        async def execute(job: models.Job, definition: JobDefinition = definition) -> None:
            await runner.run(definition, job, queries, owner)

        manager.entrypoint(definition.name, accepts_context=False, on_failure="hold")(execute)
    return manager


async def _refresh_depth(
    consumer: QueueManager, feeds: Sequence[FeedConsumer], stopping: asyncio.Event
) -> None:
    while not stopping.is_set():
        for feed in feeds:
            try:
                await feed.measure_backlog()
            except Exception as error:
                log.warning("feed_backlog_failed", feed=feed.definition.name, error=repr(error))
        try:
            counts: Counter[tuple[str, str]] = Counter()
            for row in await consumer.queries.queue_size():
                counts[(row.entrypoint, row.status)] += row.count
        except Exception as error:
            log.warning("job_queue_depth_failed", error=repr(error))
        else:
            metrics.QUEUE_DEPTH.clear()
            for (entrypoint, status), count in counts.items():
                metrics.QUEUE_DEPTH.labels(entrypoint, status).set(count)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), DEPTH_INTERVAL)
