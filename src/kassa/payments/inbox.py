"""The inbox: every processor event is stored once and processed by a job.

``receive`` inserts the event (ignoring one already stored under the same processor and event
id, so a redelivered webhook is a no-op) and enqueues its processing in the same transaction.
Plain SQL (``kit.sql``): the sandbox receives one per confirm.
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
    from kassa.jobs.queue import enqueue
    from kassa.payments.jobs import ProcessEvent, settle_processor_events

    event = _event(processor, event_id, event_type, payload)
    if not await sql.insert_unless_conflict(session, event, on=_SAME_EVENT):
        return False
    await enqueue(session, settle_processor_events, ProcessEvent(inbox_id=event.id))
    return True


def receive_with(
    session: AsyncSession,
    writes: sql.Writes,
    processor: str,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
) -> None:
    """Store the event unless already stored, and enqueue its processing, in the statement
    ``writes`` sends. The job is enqueued either way: for a duplicate, its id names no stored
    event, and the settlement, which takes stored unprocessed events by id, finds nothing."""
    from kassa.jobs.queue import enqueue_with
    from kassa.payments.jobs import ProcessEvent, settle_processor_events

    event = _event(processor, event_id, event_type, payload)
    writes.insert_unless_conflict(event, on=_SAME_EVENT)
    enqueue_with(session, writes, settle_processor_events, [ProcessEvent(inbox_id=event.id)])


_SAME_EVENT = ("processor", "event_id")


def _event(
    processor: str, event_id: str, event_type: str, payload: dict[str, Any]
) -> ProcessorEvent:
    return sql.value(
        ProcessorEvent, processor=processor, event_id=event_id, type=event_type, payload=payload
    )
