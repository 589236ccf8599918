"""Background work for webhooks: one job per delivery attempt, run in batches per endpoint,
plus a periodic safety net."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.config import get_settings
from kassa.jobs.queue import enqueue_many
from kassa.jobs.registry import BatchContext, JobContext, batch_job, on_worker_shutdown, periodic
from kassa.kit.clock import utc_now
from kassa.webhook.delivery import deliver_events
from kassa.webhook.repository import WebhookEventRepository
from kassa.webhook.sending import close_http_client, http_client

# An event due this long ago without having been attempted lost its job (e.g. the queue was
# purged by hand); the sweeper enqueues it again. Normal retries never get this late.
_OVERDUE = timedelta(minutes=2)

on_worker_shutdown(close_http_client)


class DeliverWebhookEvent(BaseModel):
    event_id: uuid.UUID
    # The batching key. Optional: jobs enqueued before it existed still decode (and batch
    # together under None).
    endpoint_id: uuid.UUID | None = None


def _endpoint_of(payload: DeliverWebhookEvent) -> uuid.UUID | None:
    return payload.endpoint_id


# Like settlement: 15 ms of waiting gathers a trickle of events into batches of several.
@batch_job(max_size=100, key=_endpoint_of, max_in_flight=2, max_attempts=5, linger_seconds=0.015)
async def deliver_webhook_event(ctx: BatchContext, payloads: list[DeliverWebhookEvent]) -> None:
    """Make one delivery attempt for each event (idempotent: a done event is left alone).

    A batch holds one endpoint's events, so a slow endpoint holds up only its own; it is sent
    concurrently and written in one transaction. Next attempts and successors are new jobs.
    """
    outcomes = await deliver_events(
        ctx.session, [p.event_id for p in payloads], http_client(), get_settings()
    )
    now = utc_now()
    followups: dict[uuid.UUID, tuple[uuid.UUID | None, timedelta | None]] = {}
    successors: dict[uuid.UUID, uuid.UUID | None] = {}
    for payload in payloads:
        outcome = outcomes.pop(payload.event_id, None)  # popped: a duplicate id goes once
        if outcome is None:
            continue
        endpoint_id = outcome.endpoint_id or payload.endpoint_id
        if outcome.next_at is not None:
            delay = max(outcome.next_at - now, timedelta(0))
            followups[payload.event_id] = (endpoint_id, delay)
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
) -> None:
    """Enqueue a delivery job for each ``(event_id, endpoint_id)``, in the session's transaction
    (after ``execute_after``: one delay, or one per event)."""
    payloads = [DeliverWebhookEvent(event_id=e, endpoint_id=endpoint) for e, endpoint in events]
    if payloads:
        await enqueue_many(session, deliver_webhook_event, payloads, execute_after=execute_after)
