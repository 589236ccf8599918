from __future__ import annotations

import asyncio

from sqlalchemy import text

from kassa.config import Settings
from kassa.kit.db import create_engine, create_sessionmaker
from tests.conftest import fetch_rows


async def test_a_pooled_connection_the_server_closed_is_replaced(
    settings: Settings, database_url: str
) -> None:
    engine = create_engine(database_url, settings.model_copy(update={"database_pool_size": 1}))
    sessions = create_sessionmaker(engine)
    backend = text("SELECT pg_backend_pid()")
    try:
        async with sessions() as session:
            first = await session.scalar(backend)
        await fetch_rows(database_url, "SELECT pg_terminate_backend($1)", first)
        await asyncio.sleep(0.2)  # the idle connection's socket is closed by now

        async with sessions() as session:
            second = await session.scalar(backend)

        assert second != first
    finally:
        await engine.dispose()
