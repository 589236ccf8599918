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

    The youngest generation is then collected after 20,000 net allocations rather than 700:
    a request or job makes thousands of short-lived objects that reference counting frees
    anyway, and with the default the API collected ~60 times a second under load, 6 % of its
    CPU (under 2 % with this threshold; measured with ``gc.callbacks`` during
    ``bench/checkout_e2e.py``).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
