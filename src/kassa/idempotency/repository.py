from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.models import IdempotencyKey


class IdempotencyKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def try_lock(self, lock_key: int) -> bool:
        """Take the key's transaction-scoped advisory lock, or report that it is held."""
        locked = await self.session.scalar(select(func.pg_try_advisory_xact_lock(lock_key)))
        return bool(locked)

    async def get_live(self, scope: str, key: str, now: datetime) -> IdempotencyKey | None:
        statement = select(IdempotencyKey).where(
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at > now,
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def store(self, row: IdempotencyKey) -> None:
        values = {c.name: getattr(row, c.name) for c in IdempotencyKey.__table__.columns}
        statement = insert(IdempotencyKey).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[IdempotencyKey.scope, IdempotencyKey.key],
            set_={k: v for k, v in values.items() if k not in ("scope", "key")},
        )
        await self.session.execute(statement)

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
