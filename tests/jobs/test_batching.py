"""Natural batching on its own (no database): what forms a batch, keys, results, cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from kassa.jobs.batching import Batcher


class Recorder:
    """An ``execute`` that records its batches; items named ``"!..."`` fail, ``"slow..."``
    take ``slow`` seconds, and every batch waits for ``gate`` to be set."""

    def __init__(self, slow: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.slow = slow
        self.gate = asyncio.Event()
        self.gate.set()
        self.cancelled = 0

    async def __call__(self, items: list[str]) -> Sequence[BaseException | None]:
        self.batches.append(list(items))
        try:
            await self.gate.wait()
            if any(item.startswith("slow") for item in items):
                await asyncio.sleep(self.slow)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return [ValueError(item) if item.startswith("!") else None for item in items]


async def test_items_submitted_together_form_one_batch_and_a_lone_item_runs_at_once() -> None:
    execute = Recorder()
    batcher = Batcher(execute, max_size=10, max_in_flight=1)
    await asyncio.gather(*(batcher.submit("k", f"item-{i}") for i in range(4)))
    assert execute.batches == [["item-0", "item-1", "item-2", "item-3"]]

    started = time.monotonic()
    await batcher.submit("k", "alone")
    assert time.monotonic() - started < 0.05  # no linger
    assert execute.batches[-1] == ["alone"]


async def test_batches_respect_max_size_and_later_items_form_the_next_batch() -> None:
    execute = Recorder()
    batcher = Batcher(execute, max_size=2, max_in_flight=1)
    execute.gate.clear()
    first = asyncio.create_task(batcher.submit("k", "a"))
    await asyncio.sleep(0.01)  # "a" runs alone; the next ones arrive while it does
    later = [asyncio.create_task(batcher.submit("k", item)) for item in "bcde"]
    await asyncio.sleep(0.01)
    assert execute.batches == [["a"]]
    execute.gate.set()
    await asyncio.gather(first, *later)
    assert execute.batches == [["a"], ["b", "c"], ["d", "e"]]


async def test_up_to_max_in_flight_batches_of_a_key_run_at_once() -> None:
    execute = Recorder()
    batcher = Batcher(execute, max_size=1, max_in_flight=2)
    execute.gate.clear()
    tasks = [asyncio.create_task(batcher.submit("k", item)) for item in "abc"]
    await asyncio.sleep(0.01)
    assert execute.batches == [["a"], ["b"]]
    execute.gate.set()
    await asyncio.gather(*tasks)
    assert execute.batches == [["a"], ["b"], ["c"]]


async def test_a_slow_key_does_not_hold_up_another() -> None:
    execute = Recorder(slow=1.0)
    batcher = Batcher(execute, max_size=10, max_in_flight=1)
    slow = asyncio.create_task(batcher.submit("slow-endpoint", "slow-1"))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await batcher.submit("fast-endpoint", "fast-1")
    assert time.monotonic() - started < 0.5
    assert not slow.done()
    await slow


async def test_each_submitter_gets_its_own_result() -> None:
    execute = Recorder()
    batcher = Batcher(execute, max_size=10, max_in_flight=1)
    results = await asyncio.gather(
        batcher.submit("k", "fine"), batcher.submit("k", "!broken"), return_exceptions=True
    )
    assert execute.batches == [["fine", "!broken"]]
    assert results[0] is None
    assert isinstance(results[1], ValueError) and str(results[1]) == "!broken"


async def test_the_gate_is_held_while_a_batch_runs() -> None:
    execute = Recorder()
    slots = asyncio.Semaphore(1)
    batcher = Batcher(execute, max_size=10, max_in_flight=5, gate=lambda: slots)
    async with slots:  # the worker is busy: batches wait, and collect what arrives meanwhile
        tasks = [asyncio.create_task(batcher.submit("k", item)) for item in "abc"]
        await asyncio.sleep(0.01)
        assert execute.batches == []
    await asyncio.gather(*tasks)
    assert execute.batches == [["a", "b", "c"]]


async def test_a_cancelled_submitter_leaves_the_queue_before_its_batch_starts() -> None:
    execute = Recorder()
    batcher = Batcher(execute, max_size=10, max_in_flight=1)
    execute.gate.clear()
    first = asyncio.create_task(batcher.submit("k", "running"))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(batcher.submit("k", "abandoned"))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    execute.gate.set()
    await first
    await asyncio.sleep(0.01)
    assert execute.batches == [["running"]]


async def test_a_started_batch_is_cancelled_only_when_all_its_submitters_are() -> None:
    execute = Recorder()
    batcher = Batcher(execute, max_size=10, max_in_flight=1)
    execute.gate.clear()
    one, two = (asyncio.create_task(batcher.submit("k", item)) for item in ("one", "two"))
    await asyncio.sleep(0.01)
    assert execute.batches == [["one", "two"]]
    one.cancel()
    await asyncio.sleep(0.01)
    assert execute.cancelled == 0 and not two.done()  # "two" still waits for the batch
    two.cancel()
    await asyncio.sleep(0.01)
    assert execute.cancelled == 1
    for task in (one, two):
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_with_linger_items_arriving_one_by_one_form_one_batch() -> None:
    execute = Recorder()
    batcher = Batcher(execute, max_size=10, max_in_flight=2, linger=0.1)
    started = time.monotonic()
    tasks = []
    for item in "abcd":  # a trickle: each arrives while the first batch still collects
        tasks.append(asyncio.create_task(batcher.submit("k", item)))
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    assert execute.batches == [["a", "b", "c", "d"]]
    assert 0.1 <= time.monotonic() - started < 0.5


async def test_a_full_batch_does_not_linger_and_the_rest_forms_the_next() -> None:
    execute = Recorder()
    batcher = Batcher(execute, max_size=3, max_in_flight=2, linger=10.0)
    started = time.monotonic()
    full = [asyncio.create_task(batcher.submit("k", item)) for item in "abc"]
    await asyncio.gather(*full)
    assert time.monotonic() - started < 1.0
    assert execute.batches == [["a", "b", "c"]]

    # Five at once: three go at once; the two left linger, and their submitters give up.
    rest = [asyncio.create_task(batcher.submit("k", item)) for item in "defgh"]
    await asyncio.sleep(0.05)
    assert execute.batches == [["a", "b", "c"], ["d", "e", "f"]]
    assert not rest[3].done()
    for task in rest[3:]:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)
    assert execute.batches == [["a", "b", "c"], ["d", "e", "f"]]


async def test_max_size_counts_what_each_item_stands_for() -> None:
    execute = Recorder()
    # An item "name:n" stands for n units of work (say, a job carrying n events).
    batcher = Batcher(
        execute, max_size=5, max_in_flight=1, size=lambda item: int(item.split(":")[1])
    )
    execute.gate.clear()
    first = asyncio.create_task(batcher.submit("k", "a:1"))
    await asyncio.sleep(0.01)
    later = [asyncio.create_task(batcher.submit("k", i)) for i in ("b:3", "c:2", "d:9", "e:1")]
    await asyncio.sleep(0.01)
    execute.gate.set()
    await asyncio.gather(first, *later)
    # "d:9" is bigger than a batch: it still runs, alone.
    assert execute.batches == [["a:1"], ["b:3", "c:2"], ["d:9"], ["e:1"]]


async def test_linger_ends_once_the_waiting_items_fill_a_batch() -> None:
    execute = Recorder()
    batcher = Batcher(
        execute, max_size=4, max_in_flight=1, linger=10.0, size=lambda item: len(item)
    )
    started = time.monotonic()
    await asyncio.gather(batcher.submit("k", "ab"), batcher.submit("k", "cd"))
    assert time.monotonic() - started < 1.0
    assert execute.batches == [["ab", "cd"]]
