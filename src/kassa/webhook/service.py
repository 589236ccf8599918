"""Webhook endpoints, and the emission of events: an event row per subscribed endpoint and a
delivery job, written in the transaction of the change they report."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.config import get_settings
from kassa.kit import sql, versioned
from kassa.kit.clock import utc_now
from kassa.kit.db import transaction_cache
from kassa.kit.errors import ValidationFailed
from kassa.kit.pagination import PaginationParams
from kassa.kit.versioned import VersionedCache
from kassa.models import WebhookEndpoint, WebhookEvent
from kassa.webhook.formats import render
from kassa.webhook.repository import WebhookEndpointRepository, WebhookEventRepository
from kassa.webhook.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookEventType,
    WebhookFormat,
)
from kassa.webhook.signing import generate_secret
from kassa.webhook.url_safety import UnsafeURL, check_url


async def _checked_url(url: str) -> str:
    try:
        await check_url(url, allow_private=get_settings().webhooks_allow_private)
    except UnsafeURL as error:
        raise ValidationFailed.field(("body", "url"), str(error), url) from error
    return url


async def create_endpoint(
    session: AsyncSession, organization_id: uuid.UUID, body: WebhookEndpointCreate
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        organization_id=organization_id,
        url=await _checked_url(str(body.url)),
        name=body.name,
        format=str(body.format),
        secret=generate_secret(),
        events=sorted({str(event) for event in body.events}),
    )
    forget_endpoints(session)
    return await WebhookEndpointRepository(session).add(endpoint)


async def list_endpoints(
    session: AsyncSession, organization_id: uuid.UUID, params: PaginationParams
) -> tuple[Sequence[WebhookEndpoint], int]:
    repository = WebhookEndpointRepository(session)
    statement = repository.scoped(organization_id).order_by(
        WebhookEndpoint.created_at, WebhookEndpoint.id
    )
    return await repository.paginate(statement, params)


async def get_endpoint(
    session: AsyncSession, organization_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    return await WebhookEndpointRepository(session).get_or_404(
        organization_id, endpoint_id, for_update=True
    )


async def update_endpoint(
    session: AsyncSession, endpoint: WebhookEndpoint, body: WebhookEndpointUpdate
) -> WebhookEndpoint:
    if body.url is not None:
        endpoint.url = await _checked_url(str(body.url))
    if "name" in body.model_fields_set:
        endpoint.name = body.name
    if body.format is not None:
        endpoint.format = str(body.format)
    if body.events is not None:
        endpoint.events = sorted({str(event) for event in body.events})
    if body.enabled is not None:
        endpoint.enabled = body.enabled
        if body.enabled:
            endpoint.consecutive_failures = 0
            endpoint.disabled_reason = None
    forget_endpoints(session)
    await session.flush()
    return endpoint


async def rotate_secret(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.secret = generate_secret()
    await session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    endpoint.deleted_at = utc_now()
    endpoint.enabled = False
    forget_endpoints(session)
    await session.flush()


WebhookData = BaseModel | Callable[[], Awaitable[BaseModel]]


# An organization's enabled endpoints (values shared by the whole process).
_ENDPOINTS: VersionedCache[list[WebhookEndpoint]] = VersionedCache("webhooks")


async def _enabled_endpoints(
    session: AsyncSession, organization_id: uuid.UUID
) -> Sequence[WebhookEndpoint]:
    """The organization's enabled endpoints: read once per transaction (a sale emits several
    events), and not at all while the process holds them at the version of the organization's
    endpoints this transaction read (``kit.versioned``). Changes to endpoints in the same
    transaction drop both."""
    cache: dict[uuid.UUID, Sequence[WebhookEndpoint]] = transaction_cache(session, "endpoints")
    if organization_id not in cache:
        endpoints = _ENDPOINTS.get(session, organization_id)
        if endpoints is None:
            version, endpoints = await WebhookEndpointRepository(session).enabled(organization_id)
            _ENDPOINTS.put(session, organization_id, version, endpoints)
        cache[organization_id] = endpoints
    return cache[organization_id]


def forget_endpoints(session: AsyncSession) -> None:
    transaction_cache(session, "endpoints").clear()
    versioned.forget(session, "webhooks")


@dataclass(frozen=True)
class Emission:
    """One event to record: ``data`` may be a coroutine function, called only when an
    endpoint is subscribed."""

    organization_id: uuid.UUID
    event_type: WebhookEventType
    resource_key: str
    data: WebhookData


async def emit(
    session: AsyncSession,
    organization_id: uuid.UUID,
    event_type: WebhookEventType,
    resource_key: str,
    data: WebhookData,
    writes: sql.Writes | None = None,
) -> list[WebhookEvent]:
    """Record ``event_type`` for every enabled endpoint subscribed to it and enqueue their
    deliveries, all inside the caller's transaction (or with ``writes``, in the statement they
    send): they exist iff the change commits. ``data`` may be a coroutine function: it is only
    called when someone is subscribed."""
    emission = Emission(organization_id, event_type, resource_key, data)
    return await emit_many(session, [emission], writes)


async def emit_many(
    session: AsyncSession, emissions: Sequence[Emission], writes: sql.Writes | None = None
) -> list[WebhookEvent]:
    """``emit`` for several events at once, in order: one insert (or with ``writes``) and one
    enqueue for all. The events returned are values (plain SQL: a sale emits several)."""
    from kassa.webhook.jobs import enqueue_deliveries

    events: list[WebhookEvent] = []
    dumped_model: BaseModel | None = None
    data_json: dict[str, Any] = {}
    for emission in emissions:
        event_type = emission.event_type
        endpoints = [
            endpoint
            for endpoint in await _enabled_endpoints(session, emission.organization_id)
            if str(event_type) in endpoint.events
        ]
        if not endpoints:
            continue
        occurred_at = utc_now()
        data = emission.data
        model = data if isinstance(data, BaseModel) else await data()
        if model is not dumped_model:  # an order's events share its one serialization
            dumped_model, data_json = model, model.model_dump(mode="json")
        events.extend(
            sql.value(
                WebhookEvent,
                organization_id=emission.organization_id,
                endpoint_id=endpoint.id,
                type=str(event_type),
                resource_key=emission.resource_key,
                payload=render(WebhookFormat(endpoint.format), event_type, occurred_at, data_json),
                next_attempt_at=occurred_at,
            )
            for endpoint in endpoints
        )
    if not events:
        return []
    await sql.insert(session, events, writes)
    deliveries = [(event.id, event.endpoint_id) for event in events]
    await enqueue_deliveries(session, deliveries, writes=writes)
    return events


async def redeliver(
    session: AsyncSession, organization_id: uuid.UUID, event_id: uuid.UUID
) -> WebhookEvent:
    """Send an event again now, whatever became of it (a new attempt with the same id)."""
    from kassa.webhook.jobs import enqueue_deliveries

    event = await WebhookEventRepository(session).get_or_404(
        organization_id, event_id, for_update=True
    )
    event.status = "pending"
    event.next_attempt_at = utc_now()
    await session.flush()
    await enqueue_deliveries(session, [(event.id, event.endpoint_id)])
    return event
