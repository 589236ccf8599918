"""Processing inbox events: one job per stored event, idempotent by ``processed_at``.

Events are first settled in batches (``settle_processor_events``: the common case, a payment
succeeding, costs a few statements per batch); the batch hands every other event to
``process_processor_event``, which settles one event with all its cases and retries.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy import select

from kassa.jobs.queue import enqueue_many
from kassa.jobs.registry import Backoff, BatchContext, JobContext, batch_job, job
from kassa.kit.clock import utc_now
from kassa.models import ProcessorEvent
from kassa.payments.events import settlement_of


class ProcessEvent(BaseModel):
    inbox_id: uuid.UUID


# A settlement may arrive before the confirm that started the payment has committed (a real
# processor answers fast); the job then retries until that payment is known.
@job(max_attempts=12, backoff=Backoff(base_seconds=0.5, factor=2.0, max_seconds=600.0))
async def process_processor_event(ctx: JobContext, payload: ProcessEvent) -> None:
    from kassa.checkout.settlement import settle

    session = ctx.session
    event = (
        await session.execute(
            select(ProcessorEvent).where(ProcessorEvent.id == payload.inbox_id).with_for_update()
        )
    ).scalar_one_or_none()
    if event is None or event.processed_at is not None:
        return
    settlement = settlement_of(event.type, event.payload)
    outcome = (
        "ignored" if settlement is None else await settle(session, event.processor, settlement)
    )
    event.outcome = outcome
    event.processed_at = utc_now()
    ctx.logger.info(
        "processor_event_processed",
        processor=event.processor,
        event_id=event.event_id,
        type=event.type,
        outcome=outcome,
    )


# A batch costs ~15 statements whatever its size; waiting 15 ms for more events turns a
# steady trickle of sales into batches of several (see bench/RESULTS.md).
@batch_job(max_size=100, max_in_flight=2, max_attempts=12, linger_seconds=0.015)
async def settle_processor_events(ctx: BatchContext, payloads: list[ProcessEvent]) -> None:
    from kassa.checkout.settlement_batch import settle_many

    left = await settle_many(ctx.session, [payload.inbox_id for payload in payloads])
    await enqueue_many(
        ctx.session, process_processor_event, [ProcessEvent(inbox_id=inbox_id) for inbox_id in left]
    )
