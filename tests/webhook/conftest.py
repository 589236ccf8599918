from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiohttp
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import Settings, get_settings
from kassa.kit.db import session_scope
from kassa.models import WebhookEvent
from kassa.webhook.delivery import Outcome, deliver_event
from tests.conftest import Tenant
from tests.support.receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as started:
        yield started


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@dataclass
class Hooked:
    """A tenant with one webhook endpoint pointed at the test receiver."""

    tenant: Tenant
    endpoint: dict[str, object]

    @property
    def secret(self) -> str:
        return str(self.endpoint["secret"])

    @property
    def endpoint_id(self) -> str:
        return str(self.endpoint["id"])


async def add_endpoint(
    client: httpx.AsyncClient, tenant: Tenant, url: str, events: list[str], format: str = "raw"
) -> dict[str, object]:
    response = await client.post(
        "/v1/webhooks/endpoints",
        headers=tenant.headers,
        json={"url": url, "format": format, "events": events},
    )
    assert response.status_code == 201, response.text
    endpoint: dict[str, object] = response.json()
    return endpoint


@pytest_asyncio.fixture
async def hooked(client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver) -> Hooked:
    events = [
        "product.created",
        "product.updated",
        "customer.created",
        "customer.updated",
        "customer.deleted",
    ]
    return Hooked(tenant, await add_endpoint(client, tenant, receiver.url, events))


def settings_with(**changes: object) -> Settings:
    return get_settings().model_copy(update=changes)


async def pending_events(
    sessionmaker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID
) -> list[WebhookEvent]:
    async with sessionmaker() as session:
        statement = (
            select(WebhookEvent)
            .where(
                WebhookEvent.organization_id == organization_id, WebhookEvent.status == "pending"
            )
            .order_by(WebhookEvent.sequence)
        )
        return list((await session.execute(statement)).scalars())


async def attempt(
    sessionmaker: async_sessionmaker[AsyncSession],
    event_id: uuid.UUID,
    http: aiohttp.ClientSession,
    settings: Settings | None = None,
) -> Outcome:
    """One delivery attempt in its own transaction, as the job does it."""
    async with session_scope(sessionmaker) as session:
        return await deliver_event(session, event_id, http, settings or get_settings())


async def deliver_all(
    sessionmaker: async_sessionmaker[AsyncSession],
    organization_id: uuid.UUID,
    http: aiohttp.ClientSession,
    settings: Settings | None = None,
) -> list[Outcome]:
    outcomes = []
    for event in await pending_events(sessionmaker, organization_id):
        outcomes.append(await attempt(sessionmaker, event.id, http, settings))
    return outcomes
