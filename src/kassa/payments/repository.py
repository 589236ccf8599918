"""Payments, read and written with plain SQL (``kit.sql``) as values: every confirm records
one and every settlement settles one."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.kit import sql
from kassa.models import Payment

_BY_PROCESSOR_ID = "SELECT * FROM payments WHERE processor = $1 AND processor_id = $2"


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_unless_known(self, payment: Payment) -> bool:
        """Insert a new payment; False when the processor's id is already recorded. Any other
        conflict (a second live payment of a checkout) raises."""
        return await sql.insert_unless_conflict(
            self.session, payment, on=("processor", "processor_id")
        )

    async def by_processor_id(
        self, processor: str, processor_id: str, *, lock: bool = False
    ) -> Payment | None:
        query = _BY_PROCESSOR_ID + (" FOR UPDATE" if lock else "")
        row = await (await sql.connection(self.session)).fetchrow(query, processor, processor_id)
        return None if row is None else sql.instance(Payment, row)

    async def save(self, payment: Payment, keys: Sequence[str]) -> None:
        await sql.update(self.session, payment, keys)
