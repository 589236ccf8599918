"""The inbox: every processor event is stored once, and is its own job.

``receive`` inserts the event (ignoring one already stored under the same processor and event
id, so a redelivered webhook is a no-op). The inbox is a feed (``kassa.jobs.feeds``): the
insert wakes the workers listening on ``CHANNEL`` (migration 0010's trigger), which settle the
stored events in batches (``kassa.payments.jobs.settle_inbox``). Plain SQL (``kit.sql``): the
sandbox receives one per confirm.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.kit import sql
from kassa.models import ProcessorEvent


async def receive(
    session: AsyncSession, processor: str, event_id: str, event_type: str, payload: dict[str, Any]
) -> bool:
    """Store the event; False when it was already stored (a duplicate delivery)."""
    event = _event(processor, event_id, event_type, payload)
    return await sql.insert_unless_conflict(session, event, on=_SAME_EVENT)


def receive_with(
    writes: sql.Writes,
    processor: str,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
) -> None:
    """Store the event unless already stored, in the statement ``writes`` sends."""
    writes.insert_unless_conflict(_event(processor, event_id, event_type, payload), on=_SAME_EVENT)


_SAME_EVENT = ("processor", "event_id")
CHANNEL = "kassa_inbox"  # as migration 0010's trigger notifies


def _event(
    processor: str, event_id: str, event_type: str, payload: dict[str, Any]
) -> ProcessorEvent:
    return sql.value(
        ProcessorEvent, processor=processor, event_id=event_id, type=event_type, payload=payload
    )
