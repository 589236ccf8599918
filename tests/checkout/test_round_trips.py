"""How many statements the hot requests make: each round trip to the database costs the API
and PostgreSQL CPU (see bench/RESULTS.md)."""

from __future__ import annotations

import httpx
import pytest

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
