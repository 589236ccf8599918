"""The inbox: every processor event is stored once and processed by a job.

``receive`` inserts the event (ignoring one already stored under the same processor and event
id, so a redelivered webhook is a no-op) and enqueues its processing in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.models import ProcessorEvent


async def receive(
    session: AsyncSession, processor: str, event_id: str, event_type: str, payload: dict[str, Any]
) -> bool:
    """Store the event; False when it was already stored (a duplicate delivery)."""
    from kassa.jobs.queue import enqueue
    from kassa.payments.jobs import ProcessEvent, settle_processor_events

    statement = (
        insert(ProcessorEvent)
        .values(processor=processor, event_id=event_id, type=event_type, payload=payload)
        .on_conflict_do_nothing(index_elements=["processor", "event_id"])
        .returning(ProcessorEvent.id)
    )
    inbox_id = await session.scalar(statement)
    if inbox_id is None:
        return False
    await enqueue(session, settle_processor_events, ProcessEvent(inbox_id=inbox_id))
    return True
