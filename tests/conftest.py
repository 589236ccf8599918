"""Shared fixtures: a real PostgreSQL database for the whole run, the app, and tenants.

The database is ``KASSA_TEST_DATABASE_URL``'s server when set (a fresh database is created on
it for each run and each xdist worker), else an embedded PostgreSQL kept under ``.cache/``.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa import migrate
from kassa.app import create_app
from kassa.auth import service as auth_service
from kassa.auth.scopes import ALL_SCOPES, Scope
from kassa.config import Settings
from kassa.kit.db import async_database_url, create_engine, session_scope
from kassa.organization import service as organization_service

# Test receivers listen on 127.0.0.1; tests of the SSRF guard turn it back on themselves.
os.environ.setdefault("KASSA_WEBHOOKS_ALLOW_PRIVATE", "true")

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "test-secret-key-" + "k" * 32


def _server_url() -> str:
    configured = os.environ.get("KASSA_TEST_DATABASE_URL")
    if configured:
        return async_database_url(configured)
    from kassa.embedded import start_embedded_postgres

    return start_embedded_postgres(REPO_ROOT / ".cache" / "test-postgres", database="postgres")


def _libpq_kwargs(url: str) -> dict[str, object]:
    parsed = make_url(url)
    kwargs: dict[str, object] = {
        "user": parsed.username or "postgres",
        "database": parsed.database or "postgres",
    }
    host = parsed.query.get("host") or parsed.host
    if host:
        kwargs["host"] = host
    if parsed.port:
        kwargs["port"] = parsed.port
    if parsed.password:
        kwargs["password"] = parsed.password
    return kwargs


async def _admin_execute(url: str, statement: str) -> None:
    await fetch_rows(url, statement)


async def fetch_rows(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Run ``query`` on a fresh connection of its own (outside any session or transaction)."""
    connection = await asyncpg.connect(**_libpq_kwargs(url))  # type: ignore[arg-type]
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def create_database(server_or_sibling: str, name: str, *, migrated: bool = True) -> str:
    """A new database on the same server as the given URL; migrated to head unless asked
    not to. Returns its URL."""
    await _admin_execute(server_or_sibling, f'CREATE DATABASE "{name}"')
    url = make_url(server_or_sibling).set(database=name).render_as_string(hide_password=False)
    if migrated:
        engine = create_engine(url, Settings(secret_key=TEST_SECRET_KEY))
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()
    return url


async def drop_database(sibling: str, name: str) -> None:
    await _admin_execute(sibling, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def separate_database(sibling: str, purpose: str) -> Iterator[str]:
    """A database of its own beside ``sibling``, for a live server whose job worker must not
    take the jobs of tests running against the shared one."""
    import asyncio

    name = f"kassa_{purpose}_{secrets.token_hex(4)}"
    url = asyncio.run(create_database(sibling, name))
    try:
        yield url
    finally:
        asyncio.run(drop_database(sibling, name))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh, migrated database (``postgresql+asyncpg://...``) for this test run."""
    import asyncio

    server = _server_url()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"kassa_test_{worker}_{secrets.token_hex(4)}"
    url = asyncio.run(create_database(server, name))
    yield url
    asyncio.run(drop_database(server, name))


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        secret_key=TEST_SECRET_KEY,
        data_dir=tmp_path_factory.mktemp("kassa-data"),
        log_json=True,
    )


@pytest_asyncio.fixture(scope="session")
async def app(settings: Settings, database_url: str) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database_url)
    yield application
    await application.state.engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return maker


@pytest_asyncio.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as http:
        yield http


@dataclass(frozen=True)
class Tenant:
    organization_id: uuid.UUID
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


TenantFactory = Callable[..., Awaitable[Tenant]]


@pytest.fixture
def make_tenant(sessionmaker: async_sessionmaker[AsyncSession]) -> TenantFactory:
    """Create an organization with a token (every scope unless ``scopes`` is given)."""

    async def factory(scopes: frozenset[Scope] = ALL_SCOPES, **token: object) -> Tenant:
        async with session_scope(sessionmaker) as session:
            organization = await organization_service.create_organization(
                session, f"Org {secrets.token_hex(3)}"
            )
            _, raw = await auth_service.create_token(
                session,
                organization.id,
                comment="test",
                scopes=scopes,
                expires_in=token.get("expires_in"),  # type: ignore[arg-type]
                secret_key=TEST_SECRET_KEY.encode(),
            )
        return Tenant(organization.id, raw)

    return factory


@pytest_asyncio.fixture
async def tenant(make_tenant: TenantFactory) -> Tenant:
    return await make_tenant()
