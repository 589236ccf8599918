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

    event = sql.value(
        ProcessorEvent, processor=processor, event_id=event_id, type=event_type, payload=payload
    )
    if not await sql.insert_unless_conflict(session, event, on=("processor", "event_id")):
        return False
    await enqueue(session, settle_processor_events, ProcessEvent(inbox_id=event.id))
    return True
