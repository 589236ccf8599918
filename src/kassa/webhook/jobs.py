"""Background work for webhooks: delivery jobs, each carrying the events one transaction emitted
for one endpoint (or their next attempts), run in batches per endpoint; plus a periodic safety
net."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.config import get_settings
from kassa.jobs.queue import enqueue_many, enqueue_with
from kassa.jobs.registry import BatchContext, JobContext, batch_job, on_worker_shutdown, periodic
from kassa.kit import sql
from kassa.kit.clock import utc_now
from kassa.webhook.delivery import deliver_events
from kassa.webhook.repository import WebhookEventRepository
from kassa.webhook.sending import close_http_client, http_client

# An event due this long ago without having been attempted lost its job (e.g. the queue was
# purged by hand); the sweeper enqueues it again. Normal retries never get this late.
_OVERDUE = timedelta(minutes=2)

on_worker_shutdown(close_http_client)


# Events per delivery job, and per batch of jobs (which counts events, not jobs).
MAX_EVENTS = 100


class DeliverWebhookEvent(BaseModel):
    """Deliver ``event_ids``, all for ``endpoint_id`` (the batching key; optional, as in jobs
    enqueued before it existed, which batch together under None). ``event_id``: the one event
    of a job enqueued before jobs carried several."""

    event_ids: list[uuid.UUID] = Field(default_factory=list)
    event_id: uuid.UUID | None = None
    endpoint_id: uuid.UUID | None = None

    def ids(self) -> list[uuid.UUID]:
        return self.event_ids if self.event_id is None else [*self.event_ids, self.event_id]


def _endpoint_of(payload: DeliverWebhookEvent) -> uuid.UUID | None:
    return payload.endpoint_id


def _events_in(payload: DeliverWebhookEvent) -> int:
    return len(payload.event_ids) + (payload.event_id is not None)


# Like settlement: 15 ms of waiting gathers a trickle of events into batches of several.
@batch_job(
    max_size=MAX_EVENTS,
    key=_endpoint_of,
    size=_events_in,
    max_in_flight=2,
    max_attempts=5,
    linger_seconds=0.015,
)
async def deliver_webhook_event(ctx: BatchContext, payloads: list[DeliverWebhookEvent]) -> None:
    """Make one delivery attempt for each event (idempotent: a done event is left alone).

    A batch holds one endpoint's events, so a slow endpoint holds up only its own; it is sent
    concurrently and written in one transaction. Next attempts and successors are new jobs.
    """
    wanted = [(event_id, p.endpoint_id) for p in payloads for event_id in p.ids()]
    outcomes = await deliver_events(
        ctx.session, [event_id for event_id, _ in wanted], http_client(), get_settings()
    )
    now = utc_now()
    followups: dict[uuid.UUID, tuple[uuid.UUID | None, timedelta | None]] = {}
    successors: dict[uuid.UUID, uuid.UUID | None] = {}
    for event_id, job_endpoint_id in wanted:
        outcome = outcomes.pop(event_id, None)  # popped: a duplicate id goes once
        if outcome is None:
            continue
        endpoint_id = outcome.endpoint_id or job_endpoint_id
        if outcome.next_at is not None:
            delay = max(outcome.next_at - now, timedelta(0))
            followups[event_id] = (endpoint_id, delay)
        if outcome.successor_id is not None:
            successors[outcome.successor_id] = endpoint_id
    for successor_id, endpoint_id in successors.items():
        # A successor in this batch that gets a later look already has its job.
        followups.setdefault(successor_id, (endpoint_id, None))
    await enqueue_deliveries(
        ctx.session,
        [(event_id, endpoint_id) for event_id, (endpoint_id, _) in followups.items()],
        execute_after=[delay for _, delay in followups.values()],
    )


@periodic("* * * * *")
async def enqueue_overdue_webhooks(ctx: JobContext) -> None:
    """Safety net: deliveries are enqueued with their cause, so this normally finds nothing."""
    repository = WebhookEventRepository(ctx.session)
    overdue = await repository.due(utc_now() - _OVERDUE, limit=1000)
    await enqueue_deliveries(ctx.session, [(row.id, row.endpoint_id) for row in overdue])


async def enqueue_deliveries(
    session: AsyncSession,
    events: Iterable[tuple[uuid.UUID, uuid.UUID | None]],
    *,
    execute_after: timedelta | Sequence[timedelta | None] | None = None,
    writes: sql.Writes | None = None,
) -> None:
    """Enqueue the delivery of each ``(event_id, endpoint_id)`` in the session's transaction
    (with ``writes``, in their statement), after ``execute_after`` (one delay, or one per
    event): one job per endpoint and delay (rounded up to the second) for up to
    ``MAX_EVENTS`` events."""
    pairs = list(events)
    delays = execute_after if isinstance(execute_after, Sequence) else [execute_after] * len(pairs)
    jobs: dict[tuple[uuid.UUID | None, timedelta | None], list[uuid.UUID]] = defaultdict(list)
    for (event_id, endpoint_id), delay in zip(pairs, delays, strict=True):
        jobs[endpoint_id, _whole_seconds(delay)].append(event_id)
    payloads: list[DeliverWebhookEvent] = []
    job_delays: list[timedelta | None] = []
    for (endpoint_id, delay), event_ids in jobs.items():
        for start in range(0, len(event_ids), MAX_EVENTS):
            chunk = event_ids[start : start + MAX_EVENTS]
            payloads.append(DeliverWebhookEvent(event_ids=chunk, endpoint_id=endpoint_id))
            job_delays.append(delay)
    if not payloads:
        return
    if writes is not None:
        enqueue_with(session, writes, deliver_webhook_event, payloads, execute_after=job_delays)
    else:
        await enqueue_many(session, deliver_webhook_event, payloads, execute_after=job_delays)


def _whole_seconds(delay: timedelta | None) -> timedelta | None:
    # Rounded up, so that each event of a job is due when it runs.
    return None if delay is None else timedelta(seconds=math.ceil(delay.total_seconds()))
