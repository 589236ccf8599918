"""Fixtures of the kit's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import Settings
from kassa.kit.db import create_engine, create_sessionmaker


@pytest_asyncio.fixture
async def one_connection(
    settings: Settings, database_url: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions over a pool of one connection: each session gets the one the last one had."""
    engine = create_engine(database_url, settings.model_copy(update={"database_pool_size": 1}))
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()
