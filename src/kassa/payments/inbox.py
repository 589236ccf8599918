"""The inbox: every processor event is stored once and processed by a job.

``receive`` inserts the event (ignoring one already stored under the same processor and event
id, so a redelivered webhook is a no-op) and enqueues its processing in the same transaction.
Plain SQL (``kit.sql``): the sandbox receives one per confirm.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.kit import sql
from kassa.kit.clock import utc_now
from kassa.kit.ids import new_id

_RECEIVE = """
    INSERT INTO processor_events (id, created_at, processor, event_id, type, payload)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (processor, event_id) DO NOTHING
    RETURNING id
"""


async def receive(
    session: AsyncSession, processor: str, event_id: str, event_type: str, payload: dict[str, Any]
) -> bool:
    """Store the event; False when it was already stored (a duplicate delivery)."""
    from kassa.jobs.queue import enqueue
    from kassa.payments.jobs import ProcessEvent, settle_processor_events

    inbox_id = await (await sql.connection(session)).fetchval(
        _RECEIVE, new_id(), utc_now(), processor, event_id, event_type, sql.jsonb(payload)
    )
    if inbox_id is None:
        return False
    await enqueue(session, settle_processor_events, ProcessEvent(inbox_id=inbox_id))
    return True
