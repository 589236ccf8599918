"""Identifiers. The contract types resource ids as ``uuid4``."""

from __future__ import annotations

import uuid


def new_id() -> uuid.UUID:
    return uuid.uuid4()
