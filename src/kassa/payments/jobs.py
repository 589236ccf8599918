"""Processing inbox events, idempotent by ``processed_at``.

The inbox is a feed (``kassa.jobs.feeds``): its unsettled events are drained in batches
(``settle_inbox``: the common case, a payment succeeding, costs a few statements per batch).
A batch hands every other event to ``process_processor_event``, a job of its own, which
settles one event with all its cases and retries.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.jobs.feeds import feed
from kassa.jobs.queue import enqueue_many, enqueue_with
from kassa.jobs.registry import Backoff, BatchContext, JobContext, batch_job, job
from kassa.kit import sql
from kassa.kit.clock import utc_now
from kassa.models import ProcessorEvent
from kassa.payments.events import settlement_of
from kassa.payments.inbox import CHANNEL
from kassa.payments.repository import ProcessorEventRepository


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


async def hand_off_inbox(session: AsyncSession, limit: int) -> int:
    """After a failed batch: the next ``limit`` unsettled events go to jobs of their own."""
    ids = await ProcessorEventRepository(session).hand_off_next(limit, utc_now())
    await enqueue_many(session, process_processor_event, _alone(ids))
    return len(ids)


async def inbox_backlog(session: AsyncSession) -> tuple[int, float | None]:
    return await ProcessorEventRepository(session).unsettled()


# A batch costs ~15 statements whatever its size; waiting 15 ms for more events turns a
# steady trickle of sales into batches of several. One batch at a time per worker makes them
# about twice as large as two would (see bench/RESULTS.md).
@feed(channel=CHANNEL, hand_off=hand_off_inbox, backlog=inbox_backlog, batch_size=100, in_flight=1)
async def settle_inbox(session: AsyncSession, limit: int) -> int:
    """Settle the oldest ``limit`` unsettled events, in one statement with their writes."""
    from kassa.checkout.settlement_batch import settle_events

    events = ProcessorEventRepository(session)
    locked = await events.lock_next_unsettled(limit)
    if not locked:
        return 0
    await sql.plan_generically(session)
    writes = sql.Writes()
    left = await settle_events(session, locked, writes)
    _hand_off(session, left, writes)
    await writes.run(session)
    return len(locked)


def _hand_off(session: AsyncSession, ids: Sequence[uuid.UUID], writes: sql.Writes) -> None:
    if ids:
        ProcessorEventRepository(session).hand_off(ids, utc_now(), writes)
        enqueue_with(session, writes, process_processor_event, _alone(ids))


def _alone(ids: Sequence[uuid.UUID]) -> list[ProcessEvent]:
    """The payloads of ``process_processor_event`` jobs for these inbox events."""
    return [ProcessEvent(inbox_id=inbox_id) for inbox_id in ids]


@batch_job(max_size=100, max_in_flight=2, max_attempts=12, linger_seconds=0.015)
async def settle_processor_events(ctx: BatchContext, payloads: list[ProcessEvent]) -> None:
    """The batch settlement of events stored before the inbox became a feed (migration 0010
    marked them handed off); kept for the jobs they came with."""
    from kassa.checkout.settlement_batch import settle_many

    left = await settle_many(ctx.session, [payload.inbox_id for payload in payloads])
    await enqueue_many(ctx.session, process_processor_event, _alone(left))
