"""Delivering webhook events: attempts, their log rows, and what happens next.

A batch of events is handled in one transaction (``deliver_events``): the due ones are locked,
sent concurrently, and their log rows and new states written with one statement each.
``deliver_event`` is a batch of one. Attempts follow ``RETRY_SCHEDULE`` (about three days over
ten attempts), driven by the event's ``next_attempt_at`` on Kassa's clock so tests can move
time. ``Retry-After`` stretches a delay; 410 Gone disables the endpoint; redirects are not
followed; an endpoint whose events keep failing is disabled and its organization told. Events
about the same resource reach an endpoint in order: a later one waits while an earlier one is
pending, in the same batch or not.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.config import Settings
from kassa.kit import sql
from kassa.kit.clock import utc_now
from kassa.kit.ids import new_id
from kassa.models import OrganizationNotice, WebhookEndpoint
from kassa.webhook.repository import (
    EventState,
    LockedEvent,
    WebhookDeliveryRepository,
    WebhookEndpointRepository,
    WebhookEventRepository,
)
from kassa.webhook.sending import Response, send_all

log = structlog.get_logger(__name__)

# Delay before attempt n+1 after attempt n failed (index n-1); ten attempts in all.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
MAX_RETRY_AFTER = timedelta(hours=24)
ORDERING_WAIT = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt led to; ``next_at`` asks for another look at this event then, and
    ``successor_id`` is an event that may go now that this one is done. ``busy``: another
    transaction holds the event (e.g. a duplicate job delivering it); look again shortly."""

    status: str
    next_at: datetime | None = None
    successor_id: uuid.UUID | None = None
    endpoint_id: uuid.UUID | None = None


async def deliver_event(
    session: AsyncSession, event_id: uuid.UUID, client: aiohttp.ClientSession, settings: Settings
) -> Outcome:
    """One event's attempt: ``deliver_events`` for a batch of one."""
    return (await deliver_events(session, [event_id], client, settings))[event_id]


async def deliver_events(
    session: AsyncSession,
    event_ids: Sequence[uuid.UUID],
    client: aiohttp.ClientSession,
    settings: Settings,
) -> dict[uuid.UUID, Outcome]:
    """Attempt every due pending event of ``event_ids`` at once; an outcome for each id.

    The batch waits for its slowest request (each gets ``webhooks_timeout_seconds`` once it
    has its place among ``sending.PER_ORIGIN``): callers group events by endpoint so that a
    slow endpoint only holds up its own events.
    """
    await sql.plan_generically(session)
    events = WebhookEventRepository(session)
    ids = list(dict.fromkeys(event_ids))
    outcomes: dict[uuid.UUID, Outcome] = {}
    locked, endpoints = await events.lock_for_delivery(ids)
    now = utc_now()
    if len(locked) < len(ids):
        found = {event.id for event in locked}
        missing = [event_id for event_id in ids if event_id not in found]
        existing = await events.existing(missing)
        for event_id in missing:
            # Held by another transaction, which decides its fate: look again after a while.
            outcomes[event_id] = (
                Outcome("busy", next_at=now + ORDERING_WAIT)
                if event_id in existing
                else Outcome("not_pending")
            )
    due: list[LockedEvent] = []
    for event in locked:
        if event.status != "pending":
            outcomes[event.id] = Outcome("not_pending", endpoint_id=event.endpoint_id)
        elif event.next_attempt_at is not None and event.next_attempt_at > now:
            outcomes[event.id] = Outcome(
                "not_due", next_at=event.next_attempt_at, endpoint_id=event.endpoint_id
            )
        else:
            due.append(event)
    if not due:
        return outcomes

    # Endpoints are not locked: deliveries to one run in parallel; its counters change
    # atomically.
    states: list[EventState] = []
    sendable: list[LockedEvent] = []
    for event in due:
        endpoint = endpoints.get(event.endpoint_id)
        if endpoint is None or endpoint.deleted_at is not None or not endpoint.enabled:
            states.append(_state(event, "skipped", event.next_attempt_at))
            outcomes[event.id] = Outcome("skipped", endpoint_id=event.endpoint_id)
        else:
            sendable.append(event)
    to_send: list[LockedEvent] = []
    for event in sendable:
        if event.behind_pending:
            next_at = now + ORDERING_WAIT
            states.append(_state(event, "pending", next_at))
            outcomes[event.id] = Outcome(
                "waiting_for_predecessor", next_at=next_at, endpoint_id=event.endpoint_id
            )
        else:
            to_send.append(event)

    responses = await send_all(client, endpoints, to_send, settings)
    attempts = [
        _attempted(event, endpoints[event.endpoint_id], response, now)
        for event, response in zip(to_send, responses, strict=True)
    ]
    states.extend(attempt.state for attempt in attempts)
    writes = sql.Writes()  # one round trip; the successors below are read after it
    await events.record_states(states, utc_now(), writes)
    await WebhookDeliveryRepository(session).add_attempts([a.log_row for a in attempts], writes)
    await writes.run(session)
    await _settle_endpoints(session, endpoints, attempts, settings)

    finished = [a.event.id for a in attempts if a.outcome.status in ("delivered", "failed")]
    successors = await events.next_pending_successors(finished)
    for attempt in attempts:
        outcome = attempt.outcome
        if (successor := successors.get(attempt.event.id)) is not None:
            outcome = Outcome(outcome.status, outcome.next_at, successor, outcome.endpoint_id)
        outcomes[attempt.event.id] = outcome
    return outcomes


def _state(event: LockedEvent, status: str, next_attempt_at: datetime | None) -> EventState:
    """The event's new state when it is not attempted."""
    return EventState(event.id, status, event.attempts, next_attempt_at, event.last_http_code)


@dataclass(frozen=True, slots=True)
class _Attempt:
    event: LockedEvent
    state: EventState
    outcome: Outcome
    log_row: dict[str, object]


def _attempted(
    event: LockedEvent, endpoint: WebhookEndpoint, response: Response, now: datetime
) -> _Attempt:
    """The state an attempt leaves its event in (endpoint effects come after)."""
    attempts = event.attempts + 1
    log_row: dict[str, object] = {
        "id": new_id(),
        "created_at": utc_now(),
        "organization_id": event.organization_id,
        "endpoint_id": endpoint.id,
        "webhook_event_id": event.id,
        "attempt": attempts,
        "succeeded": response.ok,
        "http_code": response.status,
        "response": response.body,
        "error": response.error,
        "duration_ms": response.duration_ms,
    }
    log.info(
        "webhook_attempt",
        event_id=str(event.id),
        endpoint_id=str(endpoint.id),
        type=event.type,
        attempt=attempts,
        http_code=response.status,
        error=response.error,
        duration_ms=response.duration_ms,
    )
    status, next_at, kind = "pending", event.next_attempt_at, "retry_scheduled"
    if response.ok:
        status, next_at, kind = "succeeded", None, "delivered"
    elif response.status == 410:
        status, kind = "failed", "gone"
    elif attempts >= MAX_ATTEMPTS:
        status, next_at, kind = "failed", None, "failed"
    else:
        delay = RETRY_SCHEDULE[attempts - 1]
        if response.retry_after is not None:
            delay = max(delay, min(response.retry_after, MAX_RETRY_AFTER))
        next_at = now + delay
    state = EventState(event.id, status, attempts, next_at, response.status)
    outcome = Outcome(kind, next_at if kind == "retry_scheduled" else None, None, endpoint.id)
    return _Attempt(event, state, outcome, log_row)


async def _settle_endpoints(
    session: AsyncSession,
    endpoints: dict[uuid.UUID, WebhookEndpoint],
    attempts: Sequence[_Attempt],
    settings: Settings,
) -> None:
    """Per endpoint, in event order: 410 disables it; a success restarts its count of
    consecutive failed events; each event failed for good adds one, and enough disable it."""
    by_endpoint: dict[uuid.UUID, list[str]] = defaultdict(list)
    for attempt in attempts:  # in event order: the events were locked by sequence
        by_endpoint[attempt.event.endpoint_id].append(attempt.outcome.status)
    repository = WebhookEndpointRepository(session)
    for endpoint_id, kinds in by_endpoint.items():
        endpoint = endpoints[endpoint_id]
        if "gone" in kinds:
            await _disable(session, endpoint, "The endpoint answered 410 Gone.")
        delivered = "delivered" in kinds
        after = kinds[len(kinds) - kinds[::-1].index("delivered") :] if delivered else kinds
        failures = after.count("failed")
        if delivered:
            if endpoint.consecutive_failures or failures:
                await repository.reset_failures(endpoint_id, to=failures)
            count = failures
        elif failures:
            count = await repository.count_failure(endpoint_id, failures)
        else:
            continue
        if failures and count >= settings.webhooks_disable_after_failed_events:
            await _disable(
                session,
                endpoint,
                f"{count} consecutive events failed after {MAX_ATTEMPTS} attempts each.",
            )


async def _disable(session: AsyncSession, endpoint: WebhookEndpoint, reason: str) -> None:
    if not await WebhookEndpointRepository(session).disable(endpoint.id, reason):
        return  # already disabled by a concurrent delivery: tell the organization once
    session.add(
        OrganizationNotice(
            organization_id=endpoint.organization_id,
            type="webhook_endpoint.disabled",
            message=f"Webhook endpoint {endpoint.url} was disabled: {reason}",
            subject_id=endpoint.id,
        )
    )
    log.warning(
        "webhook_endpoint_disabled",
        endpoint_id=str(endpoint.id),
        organization_id=str(endpoint.organization_id),
        url=endpoint.url,
        reason=reason,
    )
