"""The one clock business code reads; tests move it instead of sleeping.

The offset is process-local and may also be set from ``KASSA_CLOCK_OFFSET_SECONDS`` so that a
server process started by a test runs in the future as well.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

_offset = timedelta(seconds=float(os.environ.get("KASSA_CLOCK_OFFSET_SECONDS", "0")))


def utc_now() -> datetime:
    return datetime.now(UTC) + _offset


def advance(delta: timedelta) -> None:
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)
