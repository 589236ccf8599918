"""Delivering one webhook event: one attempt, its log row, and what happens next.

Attempts follow ``RETRY_SCHEDULE`` (about three days over ten attempts), driven by the event's
``next_attempt_at`` on Kassa's clock so tests can move time. ``Retry-After`` stretches a delay;
410 Gone disables the endpoint; redirects are not followed; an endpoint whose events keep
failing is disabled and its organization told. Events about the same resource reach an
endpoint in order: a later one waits while an earlier one is pending.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import aiohttp
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kassa import __version__
from kassa.config import Settings
from kassa.kit.clock import utc_now
from kassa.models import OrganizationNotice, WebhookDelivery, WebhookEndpoint, WebhookEvent
from kassa.webhook.repository import WebhookEndpointRepository, WebhookEventRepository
from kassa.webhook.signing import signature_header
from kassa.webhook.url_safety import UnsafeURL, check_url

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
RESPONSE_SNIPPET = 2048


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt led to; ``next_at`` asks for another look at this event then, and
    ``successor_id`` is an event that may go now that this one is done."""

    status: str
    next_at: datetime | None = None
    successor_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class _Response:
    status: int | None
    body: str | None
    error: str | None
    retry_after: timedelta | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def deliver_event(
    session: AsyncSession, event_id: uuid.UUID, client: aiohttp.ClientSession, settings: Settings
) -> Outcome:
    events = WebhookEventRepository(session)
    endpoints = WebhookEndpointRepository(session)
    event = await events.lock(event_id)
    if event is None or event.status != "pending":
        return Outcome("not_pending")
    now = utc_now()
    if event.next_attempt_at is not None and event.next_attempt_at > now:
        return Outcome("not_due", next_at=event.next_attempt_at)
    # Not locked: deliveries to one endpoint run in parallel; its counters change atomically.
    endpoint = await session.get(WebhookEndpoint, event.endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None or not endpoint.enabled:
        event.status = "skipped"
        return Outcome("skipped")
    if await events.has_pending_predecessor(event):
        event.next_attempt_at = now + ORDERING_WAIT
        return Outcome("waiting_for_predecessor", next_at=event.next_attempt_at)

    response = await _post(client, endpoint, event, settings)
    event.attempts += 1
    event.last_http_code = response.status
    session.add(
        WebhookDelivery(
            organization_id=event.organization_id,
            endpoint_id=endpoint.id,
            webhook_event_id=event.id,
            attempt=event.attempts,
            succeeded=response.ok,
            http_code=response.status,
            response=response.body,
            error=response.error,
            duration_ms=response.duration_ms,
        )
    )
    log.info(
        "webhook_attempt",
        event_id=str(event.id),
        endpoint_id=str(endpoint.id),
        type=event.type,
        attempt=event.attempts,
        http_code=response.status,
        error=response.error,
        duration_ms=response.duration_ms,
    )
    if response.ok:
        event.status = "succeeded"
        event.next_attempt_at = None
        if endpoint.consecutive_failures:
            await endpoints.reset_failures(endpoint.id)
        successor = await events.next_pending_successor(event)
        return Outcome("delivered", successor_id=successor.id if successor else None)
    if response.status == 410:
        event.status = "failed"
        await _disable(session, endpoint, "The endpoint answered 410 Gone.")
        return Outcome("gone")
    if event.attempts >= MAX_ATTEMPTS:
        event.status = "failed"
        event.next_attempt_at = None
        failures = await endpoints.count_failure(endpoint.id)
        if failures >= settings.webhooks_disable_after_failed_events:
            await _disable(
                session,
                endpoint,
                f"{failures} consecutive events failed after {MAX_ATTEMPTS} attempts each.",
            )
        successor = await events.next_pending_successor(event)
        return Outcome("failed", successor_id=successor.id if successor else None)
    delay = RETRY_SCHEDULE[event.attempts - 1]
    if response.retry_after is not None:
        delay = max(delay, min(response.retry_after, MAX_RETRY_AFTER))
    event.next_attempt_at = now + delay
    return Outcome("retry_scheduled", next_at=event.next_attempt_at)


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


async def _post(
    client: aiohttp.ClientSession,
    endpoint: WebhookEndpoint,
    event: WebhookEvent,
    settings: Settings,
) -> _Response:
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        await check_url(endpoint.url, allow_private=settings.webhooks_allow_private)
    except UnsafeURL as error:
        return _Response(None, None, f"Refused: {error}", None, elapsed())
    # Receivers check webhook-timestamp against their wall clock, so it is real time.
    sent_at = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": f"Kassa-Webhooks/{__version__}",
        "webhook-id": str(event.id),
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature_header(
            endpoint.secret, str(event.id), sent_at, event.payload
        ),
    }
    try:
        async with client.post(
            endpoint.url,
            data=event.payload.encode(),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=settings.webhooks_timeout_seconds),
            allow_redirects=False,
        ) as response:
            # Only the start of the body is read: the log keeps no more.
            snippet = (await response.content.read(RESPONSE_SNIPPET)).decode("utf-8", "replace")
            status, retry_after = response.status, _retry_after(response.headers.get("retry-after"))
    except TimeoutError:
        return _Response(None, None, "Timed out", None, elapsed())
    except aiohttp.ClientError as error:
        return _Response(None, None, f"{type(error).__name__}: {error}"[:500], None, elapsed())
    return _Response(status, snippet, None, retry_after, elapsed())


def _retry_after(value: str | None) -> timedelta | None:
    if value is None:
        return None
    if value.strip().isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - datetime.now(UTC), timedelta(0))
