from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from structlog.testing import capture_logs

from kassa.app import create_app
from kassa.auth.tokens import generate_token
from kassa.config import Settings
from tests.conftest import fetch_rows


async def test_a_pooled_connection_the_server_closed_is_replaced(
    one_connection: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    backend = text("SELECT pg_backend_pid()")
    async with one_connection() as session:
        first = await session.scalar(backend)
    await fetch_rows(database_url, "SELECT pg_terminate_backend($1)", first)
    await asyncio.sleep(0.2)  # the idle connection's socket is closed by now

    async with one_connection() as session:
        second = await session.scalar(backend)

    assert second != first


async def test_a_request_finding_every_connection_busy_gets_503_with_retry_after(
    settings: Settings, database_url: str
) -> None:
    one_connection = settings.model_copy(
        update={"database_pool_size": 1, "database_pool_timeout_seconds": 0.2}
    )
    app = create_app(one_connection, database_url)
    held = app.state.sessionmaker()
    transport = httpx.ASGITransport(app=app)
    try:
        await held.execute(text("SELECT 1"))  # the pool's only connection, checked out
        async with httpx.AsyncClient(transport=transport, base_url="http://kassa") as client:
            with capture_logs() as logs:
                response = await client.get(
                    "/v1/products/", headers={"Authorization": f"Bearer {generate_token()}"}
                )
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert response.json()["error"] == "ServiceUnavailable"
        [cause] = [entry for entry in logs if entry["event"] == "database_unavailable"]
        assert cause["log_level"] == "warning" and cause["error_type"] == "TimeoutError"
    finally:
        await held.close()
        await app.state.engine.dispose()
