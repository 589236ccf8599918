"""Running Kassa's long-lived processes on uvloop when it is installed (it is, with
``uvicorn[standard]`` on Linux): asyncpg and the HTTP servers spend much of their time in the
event loop's socket transports, which uvloop implements in C."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(coroutine)


def freeze_start_up_objects() -> None:
    """Take what start-up created (modules, models, mappers, schemas, routes) out of the
    cyclic GC.

    A busy server or worker allocates many short-lived objects (tasks, futures, rows), and
    each full collection would re-scan all of the long-lived ones, several times a second:
    with them frozen, webhook deliveries went from ~2,200 to ~3,000/s on a 2-core box, and the
    API's slowest requests stopped waiting for those collections. They live as long as the
    process anyway.

    The youngest generation is then collected after 5,000 net allocations rather than 700:
    a request or job makes thousands of short-lived objects that reference counting frees
    anyway. Measured with ``gc.callbacks`` over a run of ``bench/checkout_e2e.py``, the API
    spent 1.06 s in 1,166 collections with the default (9 of them full ones, ~27 ms each),
    0.41 s in 93 with 5,000; 20,000 saved little more and made the middle generation's
    collections take ~67 ms, long enough to show in the latency tail.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(5_000, 10, 10)
