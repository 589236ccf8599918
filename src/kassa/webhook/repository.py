from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, any_, exists, literal, select, update
from sqlalchemy.orm import aliased

from kassa.kit.repository import TenantRepository
from kassa.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from kassa.webhook.schemas import WebhookDeliveryFilters


class WebhookEndpointRepository(TenantRepository[WebhookEndpoint]):
    model = WebhookEndpoint

    def scoped(self, organization_id: uuid.UUID) -> Select[WebhookEndpoint]:
        return super().scoped(organization_id).where(WebhookEndpoint.deleted_at.is_(None))

    async def subscribed(
        self, organization_id: uuid.UUID, event_type: str
    ) -> Sequence[WebhookEndpoint]:
        statement = self.scoped(organization_id).where(
            WebhookEndpoint.enabled.is_(True),
            literal(str(event_type)) == any_(WebhookEndpoint.events),
        )
        return (await self.session.execute(statement)).scalars().all()

    async def count_failure(self, endpoint_id: uuid.UUID) -> int:
        """One more event failed for good; the new count of consecutive failed events."""
        statement = (
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1)
            .returning(WebhookEndpoint.consecutive_failures)
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def reset_failures(self, endpoint_id: uuid.UUID) -> None:
        await self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.consecutive_failures > 0)
            .values(consecutive_failures=0)
        )

    async def disable(self, endpoint_id: uuid.UUID, reason: str) -> bool:
        """Disable an enabled endpoint; False if it was not enabled any more."""
        statement = (
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason)
            .returning(WebhookEndpoint.id)
        )
        return (await self.session.execute(statement)).first() is not None


class WebhookEventRepository(TenantRepository[WebhookEvent]):
    model = WebhookEvent

    async def lock(self, event_id: uuid.UUID) -> WebhookEvent | None:
        statement = select(WebhookEvent).where(WebhookEvent.id == event_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def has_pending_predecessor(self, event: WebhookEvent) -> bool:
        """Whether an earlier event about the same resource still waits for this endpoint."""
        earlier = aliased(WebhookEvent)
        statement = select(
            exists().where(
                earlier.endpoint_id == event.endpoint_id,
                earlier.resource_key == event.resource_key,
                earlier.sequence < event.sequence,
                earlier.status == "pending",
            )
        )
        return bool(await self.session.scalar(statement))

    async def next_pending_successor(self, event: WebhookEvent) -> WebhookEvent | None:
        statement = (
            select(WebhookEvent)
            .where(
                WebhookEvent.endpoint_id == event.endpoint_id,
                WebhookEvent.resource_key == event.resource_key,
                WebhookEvent.sequence > event.sequence,
                WebhookEvent.status == "pending",
            )
            .order_by(WebhookEvent.sequence)
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def due(self, now: datetime, limit: int) -> Sequence[uuid.UUID]:
        statement = (
            select(WebhookEvent.id)
            .where(WebhookEvent.status == "pending", WebhookEvent.next_attempt_at <= now)
            .order_by(WebhookEvent.next_attempt_at)
            .limit(limit)
        )
        return (await self.session.execute(statement)).scalars().all()


class WebhookDeliveryRepository(TenantRepository[WebhookDelivery]):
    model = WebhookDelivery

    def filtered(
        self, organization_id: uuid.UUID, filters: WebhookDeliveryFilters
    ) -> Select[WebhookDelivery]:
        statement = self.scoped(organization_id)
        if filters.endpoint_id:
            statement = statement.where(WebhookDelivery.endpoint_id.in_(filters.endpoint_id))
        if filters.start_timestamp is not None:
            statement = statement.where(WebhookDelivery.created_at >= filters.start_timestamp)
        if filters.end_timestamp is not None:
            statement = statement.where(WebhookDelivery.created_at <= filters.end_timestamp)
        if filters.succeeded is not None:
            statement = statement.where(WebhookDelivery.succeeded.is_(filters.succeeded))
        if filters.http_code_class is not None:
            low = int(filters.http_code_class[0]) * 100
            statement = statement.where(
                and_(WebhookDelivery.http_code >= low, WebhookDelivery.http_code < low + 100)
            )
        if filters.event_type or filters.query:
            statement = statement.join(
                WebhookEvent, WebhookEvent.id == WebhookDelivery.webhook_event_id
            )
            if filters.event_type:
                statement = statement.where(
                    WebhookEvent.type.in_([str(t) for t in filters.event_type])
                )
            if filters.query:
                statement = statement.where(
                    WebhookEvent.payload.contains(filters.query, autoescape=True)
                )
        return statement.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)

    async def events_by_id(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, WebhookEvent]:
        if not ids:
            return {}
        statement = select(WebhookEvent).where(WebhookEvent.id.in_(ids))
        return {row.id: row for row in (await self.session.execute(statement)).scalars()}
