"""Natural batching: items submitted concurrently under one key run together.

The first item of an idle key starts a batch; the batch takes every item of its key waiting by
the time it gets going (up to ``max_size``, counted with ``size``: an item may stand for several
units of work, such as a job carrying many events; a batch always takes at least one), which
under load is everything pgqueuer handed over in the same dequeue. While ``max_in_flight``
batches of a key run, newer items of that key wait and form the next batch as soon as one
finishes. With ``linger`` (seconds), a batch that is not full yet first waits that long for
more items (one batch of a key collects at a time): a batch costs a transaction and a handful
of statements whatever its size, so a worker fed one job at a time trades that much latency
for fewer, larger batches. Without it an idle worker adds no latency at all, and a busy one
still gets larger batches.

Each submitter waits for its own item's result. If a submitter is cancelled while its item
still waits, the item leaves the queue; once a batch has started, it goes on for the others,
and is cancelled only when every submitter of that batch has been cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

# Runs one batch; one result per item, in order: None for success, else what to raise.
Execute = Callable[[list[T]], Awaitable[Sequence[BaseException | None]]]


@dataclass(eq=False)
class _Waiter(Generic[T]):
    item: T
    done: asyncio.Future[None]
    batch: _Batch[T] | None = None


@dataclass(eq=False)
class _Batch(Generic[T]):
    waiters: list[_Waiter[T]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


@dataclass(eq=False)
class _Group(Generic[T]):
    waiting: deque[_Waiter[T]] = field(default_factory=deque)
    running: int = 0
    # A batch has started but not taken its items yet: it will take those arriving meanwhile.
    starting: bool = False


def one_unit(item: object) -> int:
    """The default ``size``: every item counts once."""
    return 1


@contextlib.asynccontextmanager
async def _no_gate() -> AsyncIterator[None]:
    yield


class Batcher(Generic[T]):
    """Group items by key into batches run by ``execute``.

    ``gate`` is entered around each batch before it takes its items (e.g. a semaphore bounding
    the worker's concurrency), so a batch that had to wait for it collects what arrived meanwhile.
    """

    def __init__(
        self,
        execute: Execute[T],
        *,
        max_size: int,
        max_in_flight: int,
        linger: float = 0.0,
        gate: Callable[[], AbstractAsyncContextManager[object]] = _no_gate,
        size: Callable[[T], int] = one_unit,
    ) -> None:
        if max_size < 1 or max_in_flight < 1:
            raise ValueError("max_size and max_in_flight must be at least 1")
        if linger < 0:
            raise ValueError("linger cannot be negative")
        self._execute = execute
        self._max_size = max_size
        self._max_in_flight = max_in_flight
        self._linger = linger
        self._gate = gate
        self._size = size
        self._groups: dict[Hashable, _Group[T]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def submit(self, key: Hashable, item: T) -> None:
        """Wait until ``item`` has run in a batch; raise what ``execute`` gave it to raise."""
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
        waiter = _Waiter(item, asyncio.get_running_loop().create_future())
        group.waiting.append(waiter)
        self._start(key, group)
        try:
            await waiter.done
        except asyncio.CancelledError:
            self._abandon(waiter, group)
            raise

    def _start(self, key: Hashable, group: _Group[T]) -> None:
        # A submitter cancelled a moment ago may not have left the queue yet.
        while group.waiting and group.waiting[0].done.done():
            group.waiting.popleft()
        if group.waiting and group.running < self._max_in_flight and not group.starting:
            group.running += 1
            group.starting = True
            batch: _Batch[T] = _Batch()
            batch.task = asyncio.create_task(self._run(key, group, batch))
            self._tasks.add(batch.task)
            batch.task.add_done_callback(self._tasks.discard)

    async def _run(self, key: Hashable, group: _Group[T], batch: _Batch[T]) -> None:
        took = False
        try:
            if self._linger and self._waiting_size(group) < self._max_size:
                await asyncio.sleep(self._linger)
            async with self._gate():
                # This task runs after the submitters that were ready with the first one, so
                # everything dequeued together is waiting by now.
                taken = 0
                while group.waiting:
                    waiter = group.waiting[0]
                    if waiter.done.done():  # its submitter was just cancelled
                        group.waiting.popleft()
                        continue
                    size = self._size(waiter.item)
                    if batch.waiters and taken + size > self._max_size:
                        break
                    group.waiting.popleft()
                    waiter.batch = batch
                    batch.waiters.append(waiter)
                    taken += size
                group.starting, took = False, True
                if not batch.waiters:
                    return
                self._start(key, group)  # what did not fit may form the next batch now
                results = await self._execute([w.item for w in batch.waiters])
            for waiter, result in zip(batch.waiters, results, strict=True):
                if waiter.done.done():
                    continue
                if result is None:
                    waiter.done.set_result(None)
                else:
                    waiter.done.set_exception(result)
        except asyncio.CancelledError:
            for waiter in batch.waiters:
                waiter.done.cancel()
            raise
        except BaseException as error:
            for waiter in batch.waiters:
                if not waiter.done.done():
                    waiter.done.set_exception(error)
            if not isinstance(error, Exception):
                raise
        finally:
            group.running -= 1
            if not took:  # cancelled before it took its items
                group.starting = False
            self._start(key, group)
            if not group.running and not group.waiting:
                self._groups.pop(key, None)

    def _waiting_size(self, group: _Group[T]) -> int:
        total = 0
        for waiter in group.waiting:
            total += self._size(waiter.item)
            if total >= self._max_size:
                break
        return total

    def _abandon(self, waiter: _Waiter[T], group: _Group[T]) -> None:
        batch = waiter.batch
        if batch is None:
            with contextlib.suppress(ValueError):
                group.waiting.remove(waiter)
        elif batch.task is not None and all(w.done.cancelled() for w in batch.waiters):
            batch.task.cancel()
