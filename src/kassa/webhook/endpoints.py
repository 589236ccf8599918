from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from kassa.auth.dependencies import Authorize
from kassa.auth.scopes import Scope
from kassa.auth.service import AuthSubject, organization_for
from kassa.kit.db import DbSession
from kassa.kit.errors import not_found_response
from kassa.kit.pagination import ListResource, PaginationQuery
from kassa.webhook import service
from kassa.webhook.repository import WebhookDeliveryRepository
from kassa.webhook.schemas import (
    HttpCodeClass,
    WebhookDelivery,
    WebhookDeliveryFilters,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookEventType,
)
from kassa.webhook.serialize import delivery_schema

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

WebhooksRead = Annotated[AuthSubject, Depends(Authorize(Scope.webhooks_read, Scope.webhooks_write))]
WebhooksWrite = Annotated[AuthSubject, Depends(Authorize(Scope.webhooks_write))]
ENDPOINT_NOT_FOUND = not_found_response("Webhook endpoint")


@router.get("/endpoints", summary="List Webhook Endpoints")
async def list_endpoints(
    subject: WebhooksRead,
    session: DbSession,
    pagination: PaginationQuery,
    organization_id: Annotated[list[uuid.UUID] | None, Query()] = None,
) -> ListResource[WebhookEndpoint]:
    """List the webhook endpoints of the token's organization."""
    if organization_id is not None and subject.organization_id not in organization_id:
        return ListResource.build([], 0, pagination)
    rows, total = await service.list_endpoints(session, subject.organization_id, pagination)
    items = [WebhookEndpoint.model_validate(row) for row in rows]
    return ListResource.build(items, total, pagination)


@router.post("/endpoints", status_code=status.HTTP_201_CREATED, summary="Create Webhook Endpoint")
async def create_endpoint(
    body: WebhookEndpointCreate, subject: WebhooksWrite, session: DbSession
) -> WebhookEndpoint:
    """Create an endpoint. Its `secret` signs every delivery (Standard Webhooks)."""
    organization_id = organization_for(subject, body.organization_id)
    endpoint = await service.create_endpoint(session, organization_id, body)
    return WebhookEndpoint.model_validate(endpoint)


@router.get("/endpoints/{id}", summary="Get Webhook Endpoint", responses=ENDPOINT_NOT_FOUND)
async def get_endpoint(id: uuid.UUID, subject: WebhooksRead, session: DbSession) -> WebhookEndpoint:
    """Get a webhook endpoint by ID."""
    endpoint = await service.get_endpoint(session, subject.organization_id, id)
    return WebhookEndpoint.model_validate(endpoint)


@router.patch("/endpoints/{id}", summary="Update Webhook Endpoint", responses=ENDPOINT_NOT_FOUND)
async def update_endpoint(
    id: uuid.UUID, body: WebhookEndpointUpdate, subject: WebhooksWrite, session: DbSession
) -> WebhookEndpoint:
    """Update an endpoint; setting `enabled` back to true re-arms a disabled one."""
    endpoint = await service.get_endpoint(session, subject.organization_id, id)
    endpoint = await service.update_endpoint(session, endpoint, body)
    return WebhookEndpoint.model_validate(endpoint)


@router.patch(
    "/endpoints/{id}/secret",
    summary="Reset Webhook Endpoint Secret",
    responses=ENDPOINT_NOT_FOUND,
)
async def reset_secret(
    id: uuid.UUID, subject: WebhooksWrite, session: DbSession
) -> WebhookEndpoint:
    """Replace the signing secret; deliveries from now on use the new one."""
    endpoint = await service.get_endpoint(session, subject.organization_id, id)
    endpoint = await service.rotate_secret(session, endpoint)
    return WebhookEndpoint.model_validate(endpoint)


@router.delete(
    "/endpoints/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete Webhook Endpoint",
    responses=ENDPOINT_NOT_FOUND,
)
async def delete_endpoint(id: uuid.UUID, subject: WebhooksWrite, session: DbSession) -> None:
    """Delete an endpoint; its pending events are skipped."""
    endpoint = await service.get_endpoint(session, subject.organization_id, id)
    await service.delete_endpoint(session, endpoint)


@router.get("/deliveries", summary="List Webhook Deliveries")
async def list_deliveries(
    subject: WebhooksRead,
    session: DbSession,
    pagination: PaginationQuery,
    endpoint_id: Annotated[list[uuid.UUID] | None, Query()] = None,
    start_timestamp: Annotated[datetime | None, Query()] = None,
    end_timestamp: Annotated[datetime | None, Query()] = None,
    succeeded: Annotated[bool | None, Query()] = None,
    query: Annotated[str | None, Query()] = None,
    http_code_class: Annotated[HttpCodeClass | None, Query()] = None,
    event_type: Annotated[list[WebhookEventType] | None, Query()] = None,
) -> ListResource[WebhookDelivery]:
    """The delivery log: one entry per attempt, newest first."""
    filters = WebhookDeliveryFilters(
        endpoint_id=endpoint_id,
        start_timestamp=start_timestamp,
        end_timestamp=end_timestamp,
        succeeded=succeeded,
        query=query,
        http_code_class=http_code_class,
        event_type=event_type,
    )
    repository = WebhookDeliveryRepository(session)
    rows, total = await repository.paginate(
        repository.filtered(subject.organization_id, filters), pagination
    )
    events = await repository.events_by_id([row.webhook_event_id for row in rows])
    items = [delivery_schema(row, events[row.webhook_event_id]) for row in rows]
    return ListResource.build(items, total, pagination)


@router.post(
    "/events/{id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Redeliver Webhook Event",
    responses=not_found_response("Webhook event"),
)
async def redeliver_event(id: uuid.UUID, subject: WebhooksWrite, session: DbSession) -> None:
    """Schedule one more delivery of an event, now, with the same `webhook-id`."""
    await service.redeliver(session, subject.organization_id, id)
