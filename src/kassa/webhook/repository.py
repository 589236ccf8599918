from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, Select, and_, select, update

from kassa.kit import sql
from kassa.kit.repository import TenantRepository
from kassa.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from kassa.webhook.schemas import WebhookDeliveryFilters

_ENABLED = """
    SELECT organization.webhooks_version, endpoint.*
    FROM organizations organization
    LEFT JOIN webhook_endpoints endpoint ON endpoint.organization_id = organization.id
        AND endpoint.enabled AND endpoint.deleted_at IS NULL
    WHERE organization.id = $1
    ORDER BY endpoint.created_at, endpoint.id
"""


class WebhookEndpointRepository(TenantRepository[WebhookEndpoint]):
    model = WebhookEndpoint

    def scoped(self, organization_id: uuid.UUID) -> Select[WebhookEndpoint]:
        return super().scoped(organization_id).where(WebhookEndpoint.deleted_at.is_(None))

    async def enabled(self, organization_id: uuid.UUID) -> tuple[int, list[WebhookEndpoint]]:
        """The organization's enabled endpoints, as values, and the version of its endpoints
        they are (plain SQL: every sale asks)."""
        rows = await (await sql.connection(self.session)).fetch(_ENABLED, organization_id)
        version = rows[0]["webhooks_version"] if rows else 0
        return version, [sql.instance(WebhookEndpoint, row) for row in rows if row["id"]]

    async def count_failure(self, endpoint_id: uuid.UUID, events: int = 1) -> int:
        """``events`` more events failed for good; the new count of consecutive failed events."""
        statement = (
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(consecutive_failures=WebhookEndpoint.consecutive_failures + events)
            .returning(WebhookEndpoint.consecutive_failures)
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def reset_failures(self, endpoint_id: uuid.UUID, to: int = 0) -> None:
        """An event got through: the count restarts (from the failures that came after it)."""
        await self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.consecutive_failures != to)
            .values(consecutive_failures=to)
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

    async def lock_for_delivery(
        self, ids: Sequence[uuid.UUID]
    ) -> tuple[list[LockedEvent], dict[uuid.UUID, WebhookEndpoint]]:
        """Lock the given events, skipping those another transaction holds, earliest first,
        each with whether an earlier event about the same resource for the same endpoint is
        pending; and their endpoints (deleted ones included, not locked), in one round trip.

        Plain rows rather than ORM objects: the worker loads a hundred at a time, and only
        writes them back through ``record_states``.
        """
        rows = await (await sql.connection(self.session)).fetch(_LOCK_FOR_DELIVERY, list(ids))
        endpoints: dict[uuid.UUID, WebhookEndpoint] = {}
        for row in rows:
            if row["ep_id"] is not None and row["ep_id"] not in endpoints:
                endpoints[row["ep_id"]] = sql.instance(WebhookEndpoint, row, "ep_")
        events = [LockedEvent(*(row[key] for key in _LOCKED_EVENT)) for row in rows]
        return events, endpoints

    async def existing(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        rows = await (await sql.connection(self.session)).fetch(
            "SELECT id FROM webhook_events WHERE id = ANY($1::uuid[])", list(ids)
        )
        return {row["id"] for row in rows}

    async def next_pending_successors(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """For each given event, the earliest later pending event about the same resource for
        the same endpoint, if any: the one that may go now that the given one is done."""
        if not ids:
            return {}
        rows = await (await sql.connection(self.session)).fetch(_NEXT_PENDING, list(ids))
        return {done: successor for done, successor in rows}

    async def record_states(
        self, states: Sequence[EventState], now: datetime, writes: sql.Writes | None = None
    ) -> None:
        """Write the delivery state of many events in one statement (or with ``writes``)."""
        if not states:
            return
        await sql.write(
            self.session,
            writes,
            _UPDATE_STATES,
            [s.id for s in states],
            [s.status for s in states],
            [s.attempts for s in states],
            [s.next_attempt_at for s in states],
            [s.last_http_code for s in states],
            now,
        )

    async def due(self, now: datetime, limit: int) -> Sequence[Row[uuid.UUID, uuid.UUID]]:
        """(id, endpoint_id) of pending events due by ``now``, the longest overdue first."""
        statement = (
            select(WebhookEvent.id, WebhookEvent.endpoint_id)
            .where(WebhookEvent.status == "pending", WebhookEvent.next_attempt_at <= now)
            .order_by(WebhookEvent.next_attempt_at)
            .limit(limit)
        )
        return (await self.session.execute(statement)).all()


class WebhookDeliveryRepository(TenantRepository[WebhookDelivery]):
    model = WebhookDelivery

    async def add_attempts(
        self, rows: Sequence[Mapping[str, object]], writes: sql.Writes | None = None
    ) -> None:
        """Log many attempts in one statement (or with ``writes``); each row maps every column
        of the table."""
        if not rows:
            return
        columns = [[row[name] for row in rows] for name in _DELIVERY_COLUMNS]
        await sql.write(self.session, writes, _INSERT_DELIVERIES, *columns)

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


@dataclass(frozen=True, slots=True)
class LockedEvent:
    """What delivering an event needs to know about it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    endpoint_id: uuid.UUID
    type: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_http_code: int | None
    behind_pending: bool  # an earlier event about its resource for its endpoint is pending


# The delivery hot path: plain SQL (``kit.sql``).
_LOCKED_EVENT = (
    "id",
    "organization_id",
    "endpoint_id",
    "type",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "last_http_code",
    "behind_pending",
)
# Of the given events, only the earliest pending one of a resource is not behind another.
_LOCK_FOR_DELIVERY = f"""
    SELECT {", ".join(f"event.{key}" for key in _LOCKED_EVENT[:-1])},
        EXISTS (
            SELECT 1 FROM webhook_events earlier
            WHERE earlier.endpoint_id = event.endpoint_id
              AND earlier.resource_key = event.resource_key
              AND earlier.sequence < event.sequence AND earlier.status = 'pending'
        ) AS behind_pending,
        {sql.columns(WebhookEndpoint, "endpoint", "ep_")}
    FROM webhook_events event
    LEFT JOIN webhook_endpoints endpoint ON endpoint.id = event.endpoint_id
    WHERE event.id = ANY($1::uuid[])
    ORDER BY event.sequence
    FOR UPDATE OF event SKIP LOCKED
"""  # noqa: S608


@dataclass(frozen=True, slots=True)
class EventState:
    """An event's delivery state after an attempt (or a decision not to attempt it)."""

    id: uuid.UUID
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_http_code: int | None


_NEXT_PENDING = """
    SELECT done.id, successor.id
    FROM webhook_events done
    JOIN LATERAL (
        SELECT later.id FROM webhook_events later
        WHERE later.endpoint_id = done.endpoint_id AND later.resource_key = done.resource_key
          AND later.sequence > done.sequence AND later.status = 'pending'
        ORDER BY later.sequence
        LIMIT 1
    ) successor ON TRUE
    WHERE done.id = ANY($1::uuid[])
"""

_UPDATE_STATES = """
    UPDATE webhook_events event
    SET status = state.status, attempts = state.attempts,
        next_attempt_at = state.next_attempt_at, last_http_code = state.last_http_code,
        modified_at = $6
    FROM unnest(
        $1::uuid[], $2::varchar[], $3::smallint[], $4::timestamptz[], $5::smallint[]
    ) AS state(id, status, attempts, next_attempt_at, last_http_code)
    WHERE event.id = state.id
"""

# Column name -> its array type, for one INSERT ... SELECT FROM unnest: a single statement
# (prepared once) whatever the number of rows.
_DELIVERY_COLUMNS = {
    "id": "uuid[]",
    "created_at": "timestamptz[]",
    "organization_id": "uuid[]",
    "endpoint_id": "uuid[]",
    "webhook_event_id": "uuid[]",
    "attempt": "smallint[]",
    "succeeded": "boolean[]",
    "http_code": "smallint[]",
    "response": "text[]",
    "error": "text[]",
    "duration_ms": "integer[]",
}
_INSERT_DELIVERIES = (
    f"INSERT INTO webhook_deliveries ({', '.join(_DELIVERY_COLUMNS)}) "  # noqa: S608
    "SELECT * FROM unnest("
    + ", ".join(f"${n}::{t}" for n, t in enumerate(_DELIVERY_COLUMNS.values(), start=1))
    + ")"
)
