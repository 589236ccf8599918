"""Feeds: tables whose unprocessed rows are the work themselves, drained by the worker in batches.

A row written in the transaction of its cause is its own job: it exists iff the cause
committed, as a queued job would, without a second row in the queue and the queue's
dequeue, completion and log statements for each. That matters where every sale makes one,
as the payment processors' events in the inbox do (``kassa.payments.inbox``).

A feed's ``drain`` takes up to ``batch_size`` rows with ``FOR UPDATE SKIP LOCKED`` and processes
them in one transaction, which marks them done; it returns how many it took. The worker calls
it when the feed's table NOTIFYs ``channel`` (after ``linger_seconds``, to gather a trickle of
rows into a batch), again while batches come back full, and every poll interval whatever
happened (a lost notification, rows left by a failure). Up to ``in_flight`` drains run at
once; SKIP LOCKED keeps their rows apart, and apart from other workers'. A worker killed
mid-batch leaves nothing: its transaction rolls back and the rows are taken again.

A drain that raises is rolled back. When the database was out of reach, or the batch lost a
conflict with a concurrent transaction (a serialization failure, a deadlock), the rows stay
for the next batch (after a poll interval). Any other error is followed by ``hand_off`` in a
transaction of its own: it passes the next ``batch_size`` rows (those the failed batch took,
unless another worker took them meanwhile) to jobs of their own, which retry with backoff and
are held failed when out of attempts, so one bad row cannot stop a feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.jobs import metrics
from kassa.jobs.registry import name_of
from kassa.kit import sql
from kassa.kit.db import session_scope

log = structlog.get_logger("kassa.jobs")

Drain = Callable[[AsyncSession, int], Awaitable[int]]
# The rows waiting, and the age in seconds of the oldest (None when there is none).
Backlog = Callable[[AsyncSession], Awaitable[tuple[int, float | None]]]


@dataclass(frozen=True)
class FeedDefinition:
    name: str
    channel: str
    drain: Drain
    hand_off: Drain
    backlog: Backlog | None
    queue: str
    batch_size: int
    linger_seconds: float
    in_flight: int


_feeds: dict[str, FeedDefinition] = {}


def feed(
    *,
    channel: str,
    hand_off: Drain,
    backlog: Backlog | None = None,
    queue: str = "default",
    batch_size: int = 100,
    linger_seconds: float = 0.015,
    in_flight: int = 2,
) -> Callable[[Drain], Drain]:
    """Register ``async def drain(session, limit) -> int`` as a feed (see the module).
    ``backlog`` measures what waits, for the worker's metrics."""

    def register(drain: Drain) -> Drain:
        name = name_of(drain)
        _feeds[name] = FeedDefinition(
            name, channel, drain, hand_off, backlog, queue, batch_size, linger_seconds, in_flight
        )
        return drain

    return register


def feed_definitions(queues: set[str] | None = None) -> list[FeedDefinition]:
    return [f for f in _feeds.values() if queues is None or f.queue in queues]


class FeedConsumer:
    """Drains one feed for a worker until ``stop()``; the batch running then finishes."""

    def __init__(
        self,
        definition: FeedDefinition,
        sessionmaker: async_sessionmaker[AsyncSession],
        listener: asyncpg.Connection[Any],
        poll_interval: float,
    ) -> None:
        self.definition = definition
        self._sessionmaker = sessionmaker
        self._listener = listener
        self._poll_interval = poll_interval
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._drains: set[asyncio.Task[None]] = set()
        self._missed = False  # woken while every drain was busy: they go on once more
        labels = definition.name
        self._rows = metrics.FEED_ROWS.labels(labels)
        self._batches_ok = metrics.FEED_BATCHES.labels(labels, "ok")
        self._batches_failed = metrics.FEED_BATCHES.labels(labels, "failed")
        self._duration = metrics.FEED_BATCH_DURATION.labels(labels)

    def _notified(self, *_: object) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def listen(self) -> None:
        """LISTEN on the feed's channel (one at a time: feeds share the connection, which
        the worker closes when it is done)."""
        await self._listener.add_listener(self.definition.channel, self._notified)

    async def run(self) -> None:
        try:
            self._wake.set()  # rows left from before this worker started
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval)
                if self._listener.is_closed():
                    raise asyncpg.exceptions.ConnectionDoesNotExistError(
                        f"feed {self.definition.name} lost its LISTEN connection"
                    )
                self._wake.clear()
                if self._stopping.is_set():
                    break
                if len(self._drains) < self.definition.in_flight:
                    task = asyncio.create_task(self._drain_while_full())
                    self._drains.add(task)
                    task.add_done_callback(self._drains.discard)
                else:
                    self._missed = True
        finally:
            await asyncio.gather(*self._drains, return_exceptions=True)

    async def _drain_while_full(self) -> None:
        """Batches until one comes back short with no new rows announced meanwhile; each
        that is not the follow-up of a full one waits ``linger_seconds`` first."""
        full = False
        while not self._stopping.is_set():
            if not full:
                await asyncio.sleep(self.definition.linger_seconds)
            self._missed = False
            taken = await self._batch()
            full = taken >= self.definition.batch_size
            if not full and not self._missed:
                return

    async def _batch(self) -> int:
        """One drain in its own transaction; after a failure, a hand-off. Rows taken."""
        definition = self.definition
        started = time.perf_counter()
        try:
            async with session_scope(self._sessionmaker) as session:
                taken = await definition.drain(session, definition.batch_size)
        except Exception as error:
            self._batches_failed.inc()
            if _transient(error):
                log.warning("feed_batch_failed", feed=definition.name, error=repr(error))
                await self._pause()
            else:
                log.exception("feed_batch_failed", feed=definition.name, error=repr(error))
                await self._hand_off()
            return 0
        self._duration.observe(time.perf_counter() - started)
        if taken:
            self._batches_ok.inc()
            self._rows.inc(taken)
        return taken

    async def _hand_off(self) -> None:
        definition = self.definition
        try:
            async with session_scope(self._sessionmaker) as session:
                handed = await definition.hand_off(session, definition.batch_size)
        except Exception as error:
            # The database is likely out of reach: the next poll tries again.
            log.exception("feed_hand_off_failed", feed=definition.name, error=repr(error))
            await self._pause()
            return
        log.warning("feed_rows_handed_off", feed=definition.name, rows=handed)

    async def measure_backlog(self) -> None:
        """Set the backlog gauges (the worker calls this with its queue depth)."""
        if self.definition.backlog is None:
            return
        async with self._sessionmaker() as session:
            rows, oldest = await self.definition.backlog(session)
        metrics.FEED_BACKLOG.labels(self.definition.name).set(rows)
        metrics.FEED_OLDEST.labels(self.definition.name).set(oldest or 0.0)

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self._poll_interval)


def _transient(error: BaseException) -> bool:
    """Whether the batch may simply run again: the database out of reach, or a conflict with
    a concurrent transaction (serialization failure, deadlock)."""
    cause: BaseException | None = error
    if isinstance(error, DBAPIError):  # through the ORM: judge the driver's error beneath
        if error.connection_invalidated:
            return True
        cause = error.orig.__cause__ if error.orig is not None else None
    return isinstance(cause, (OSError, asyncpg.TransactionRollbackError, *sql.UNAVAILABLE))
