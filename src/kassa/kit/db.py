"""Engine and sessions. Services receive an ``AsyncSession`` and only flush; the request
transaction (``kit.transaction``) or a job wrapper commits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

from kassa.config import Settings


def async_database_url(url: str) -> str:
    """Accept ``postgres://``, ``postgresql://`` or ``postgresql+asyncpg://`` and use asyncpg."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(
    url: str,
    settings: Settings,
    *,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    application_name: str = "kassa",
) -> AsyncEngine:
    engine = create_async_engine(
        async_database_url(url),
        pool_size=settings.database_pool_size if pool_size is None else pool_size,
        max_overflow=settings.database_max_overflow if max_overflow is None else max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.database_statement_timeout_ms),
                "timezone": "UTC",
                "application_name": application_name,
            }
        },
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Hand out no pooled connection the server has closed (restart, terminated backend).

    asyncpg notices a closed socket while the connection idles in the pool, so this costs no
    round trip, where ``pool_pre_ping`` costs three (BEGIN, ping, ROLLBACK) per checkout. The
    pool replaces a refused connection with a new one.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A unit of work outside a request (CLI, jobs): commit on success, roll back on error."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def get_db_session(request: Request) -> AsyncSession:
    """The request's session; ``TransactionMiddleware`` owns its commit or rollback."""
    from kassa.kit.transaction import request_transaction

    return request_transaction(request.scope).session()


DbSession = Annotated[AsyncSession, Depends(get_db_session)]


_TRANSACTION_CACHES = "kassa.transaction_caches"


def transaction_cache(session: AsyncSession, name: str) -> dict[Any, Any]:
    """A dict that lives as long as the session's outermost transaction: rows a request or job
    reads several times (a checkout's products, an organization's endpoints) are read once."""
    caches: dict[str, dict[Any, Any]] = session.info.setdefault(_TRANSACTION_CACHES, {})
    return caches.setdefault(name, {})


@event.listens_for(Session, "after_transaction_end")
def _drop_transaction_caches(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost one: a savepoint keeps them
        session.info.pop(_TRANSACTION_CACHES, None)
