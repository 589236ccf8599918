"""How many statements the hot requests make: each round trip to the database costs the API
and PostgreSQL CPU (see bench/RESULTS.md)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.models import Checkout
from tests.checkout.conftest import create_checkout, create_product
from tests.conftest import Tenant
from tests.support.statements import record_statements


async def test_creating_a_checkout_is_its_token_read_and_its_insert_with_no_begin_or_commit(
    client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    product = await create_product(client, tenant)
    await create_checkout(client, tenant, product_id=product["id"])  # the catalog, now held
    statements = record_statements(monkeypatch)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    monkeypatch.undo()
    token, insert = statements
    assert "FROM organization_access_tokens" in token
    assert insert.startswith("INSERT INTO checkouts")
    # Committed by itself: readable at once.
    read = await client.get(f"/v1/checkouts/{checkout['id']}", headers=tenant.headers)
    assert read.status_code == 200 and read.json()["status"] == "open"


async def test_a_create_with_an_idempotency_key_commits_its_insert_with_the_key(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    product = await create_product(client, tenant)
    headers = tenant.headers | {"Idempotency-Key": f"create-{uuid.uuid4()}"}
    body = {"product_id": product["id"]}
    first = await client.post("/v1/checkouts/", headers=headers, json=body)
    again = await client.post("/v1/checkouts/", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(Checkout.organization_id == tenant.organization_id)
        )
    assert count == 1
