"""Payments and processor events, read and written with plain SQL (``kit.sql``) as values:
every confirm records a payment and stores an event, every settlement settles them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.kit import sql
from kassa.models import Payment, ProcessorEvent

# What a processor's answer to one attempt sets on its payment.
ATTEMPT_FIELDS = (
    "status",
    "card_brand",
    "card_last4",
    "next_action_url",
    "decline_reason",
    "decline_message",
)


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record_attempt(self, payment: Payment, writes: sql.Writes) -> None:
        """Insert a new payment with ``writes``; when the processor's id is already recorded
        (a retried attempt), update that row's outcome instead (``ATTEMPT_FIELDS``). Any other
        conflict (a second live payment of a checkout) raises."""
        writes.upsert(payment, on=("processor", "processor_id"), keys=ATTEMPT_FIELDS)

    async def lock_by_processor_ids(self, keys: Sequence[tuple[str, str]]) -> list[Payment]:
        """Lock the payments of the given ``(processor, processor_id)`` pairs, in id order."""
        rows = await (await sql.connection(self.session)).fetch(
            _LOCK_BY_PROCESSOR_IDS, [k[0] for k in keys], [k[1] for k in keys]
        )
        return [sql.instance(Payment, row) for row in rows]

    async def mark_succeeded(
        self, payments: Sequence[Payment], now: datetime, writes: sql.Writes | None = None
    ) -> None:
        """Record that these payments succeeded and paid their ``order_id``, in one statement
        (or with ``writes``)."""
        for payment in payments:
            payment.status, payment.modified_at = "succeeded", now
        if payments:
            await sql.write(
                self.session,
                writes,
                _MARK_SUCCEEDED,
                [p.id for p in payments],
                [p.order_id for p in payments],
                now,
            )


_LOCK_BY_PROCESSOR_IDS = """
    SELECT payment.* FROM payments payment
    JOIN unnest($1::text[], $2::text[]) AS wanted(processor, processor_id)
      ON payment.processor = wanted.processor AND payment.processor_id = wanted.processor_id
    ORDER BY payment.id
    FOR UPDATE OF payment
"""
_MARK_SUCCEEDED = """
    UPDATE payments SET status = 'succeeded', order_id = paid.order_id, modified_at = $3
    FROM unnest($1::uuid[], $2::uuid[]) AS paid(id, order_id)
    WHERE payments.id = paid.id
"""


class ProcessorEventRepository:
    """The inbox's rows (``kassa.payments.inbox``), as values."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_unprocessed(self, ids: Sequence[uuid.UUID]) -> list[ProcessorEvent]:
        rows = await (await sql.connection(self.session)).fetch(_LOCK_UNPROCESSED, list(ids))
        return [sql.instance(ProcessorEvent, row) for row in rows]

    async def lock_next_unsettled(self, limit: int) -> list[ProcessorEvent]:
        """The oldest events a batch may settle, up to ``limit``, locked; those another
        transaction holds are skipped."""
        rows = await (await sql.connection(self.session)).fetch(_LOCK_NEXT_UNSETTLED, limit)
        return [sql.instance(ProcessorEvent, row) for row in rows]

    async def unsettled(self) -> tuple[int, float | None]:
        """How many events a batch may still take, and the oldest one's age in seconds."""
        row = await (await sql.reading_connection(self.session)).fetchrow(_UNSETTLED)
        assert row is not None
        return row["count"], row["age"]

    async def hand_off_next(self, limit: int, now: datetime) -> list[uuid.UUID]:
        """Mark the oldest events a batch may settle, up to ``limit``, handed off ``now``."""
        rows = await (await sql.connection(self.session)).fetch(_HAND_OFF_NEXT, limit, now)
        return [row["id"] for row in rows]

    def hand_off(self, ids: Sequence[uuid.UUID], now: datetime, writes: sql.Writes) -> None:
        """Mark the events handed off ``now``, with ``writes``."""
        writes.add(_HAND_OFF, list(ids), now)

    async def mark_processed(
        self, events: Sequence[ProcessorEvent], now: datetime, writes: sql.Writes | None = None
    ) -> None:
        """Write the ``outcome`` of each event and that it was processed ``now`` (or with
        ``writes``)."""
        for event in events:
            event.processed_at = event.modified_at = now
        if events:
            await sql.write(
                self.session,
                writes,
                _MARK_PROCESSED,
                [e.id for e in events],
                [e.outcome for e in events],
                now,
            )


_LOCK_UNPROCESSED = """
    SELECT * FROM processor_events
    WHERE id = ANY($1::uuid[]) AND processed_at IS NULL
    ORDER BY id
    FOR UPDATE
"""
# The events a batch may take: ix_processor_events_unsettled holds them.
_LOCK_NEXT_UNSETTLED = """
    SELECT * FROM processor_events
    WHERE processed_at IS NULL AND handed_off_at IS NULL
    ORDER BY created_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
"""
_UNSETTLED = """
    SELECT count(*) AS count, extract(epoch FROM now() - min(created_at))::float8 AS age
    FROM processor_events WHERE processed_at IS NULL AND handed_off_at IS NULL
"""
_HAND_OFF_NEXT = """
    UPDATE processor_events SET handed_off_at = $2, modified_at = $2
    WHERE id IN (
        SELECT id FROM processor_events WHERE processed_at IS NULL AND handed_off_at IS NULL
        ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED
    )
    RETURNING id
"""
_HAND_OFF = """
    UPDATE processor_events SET handed_off_at = $2, modified_at = $2
    WHERE id = ANY($1::uuid[])
"""
_MARK_PROCESSED = """
    UPDATE processor_events SET outcome = done.outcome, processed_at = $3, modified_at = $3
    FROM unnest($1::uuid[], $2::text[]) AS done(id, outcome)
    WHERE processor_events.id = done.id
"""
