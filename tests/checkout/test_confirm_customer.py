"""Which customer a confirm pays for: the one the checkout names, else the live one with its
external id, else with its email (whatever its case), else a new one. The checkout's lock
looks the customer up in the same round trip."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.checkout.repository import _FOR_CONFIRM
from kassa.kit import sql
from kassa.models import Customer, Payment
from tests.checkout.conftest import JSON, confirm, create_checkout, create_product
from tests.conftest import Tenant
from tests.support.statements import record_statements


async def _customer(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> JSON:
    response = await client.post("/v1/customers/", headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    customer: JSON = response.json()
    return customer


async def _paid_for(client: httpx.AsyncClient, tenant: Tenant, checkout: JSON) -> str:
    response = await client.get(f"/v1/checkouts/{checkout['id']}", headers=tenant.headers)
    return str(response.json()["customer_id"])


async def _customers(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(Customer.organization_id == tenant.organization_id)
        )
        return int(count or 0)


async def test_a_returning_customer_is_found_by_email_with_the_checkout_in_one_round_trip(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    known = await _customer(client, tenant, email="Returning@Example.com")
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])

    statements = record_statements(monkeypatch)
    response = await confirm(client, checkout, customer_email="returning@example.com")
    monkeypatch.undo()
    assert response.status_code == 200, response.text
    assert await _paid_for(client, tenant, checkout) == known["id"]
    # The checkout with the customer's lookup, then every write in one statement, which
    # commits itself: no lock held between them, no BEGIN, no COMMIT.
    read, write = statements
    assert "LEFT JOIN LATERAL" in read and "FOR UPDATE" not in read
    assert write.startswith("WITH write_0 AS (") and "kassa_changed_since_read" in write
    assert await _customers(sessionmaker, tenant) == 1


async def test_the_named_customer_then_the_external_id_come_before_the_email(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    by_email = await _customer(client, tenant, email="shared@example.com")
    named = await _customer(client, tenant, email="named@example.com")
    external = await _customer(client, tenant, email="ext@example.com", external_id="ext-1")
    product = await create_product(client, tenant)

    checkout = await create_checkout(
        client, tenant, product_id=product["id"], customer_id=named["id"]
    )
    assert (await confirm(client, checkout, customer_email="shared@example.com")).status_code == 200
    assert await _paid_for(client, tenant, checkout) == named["id"]

    checkout = await create_checkout(
        client, tenant, product_id=product["id"], external_customer_id="ext-1"
    )
    assert (await confirm(client, checkout, customer_email="shared@example.com")).status_code == 200
    assert await _paid_for(client, tenant, checkout) == external["id"]

    checkout = await create_checkout(client, tenant, product_id=product["id"])
    assert (await confirm(client, checkout, customer_email="SHARED@example.com")).status_code == 200
    assert await _paid_for(client, tenant, checkout) == by_email["id"]
    assert await _customers(sessionmaker, tenant) == 3


async def test_a_deleted_customer_is_not_reused_and_a_new_one_is_created(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    gone = await _customer(client, tenant, email="gone@example.com", external_id="gone-1")
    product = await create_product(client, tenant)
    checkout = await create_checkout(
        client, tenant, product_id=product["id"], customer_id=gone["id"]
    )
    deleted = await client.delete(f"/v1/customers/{gone['id']}", headers=tenant.headers)
    assert deleted.status_code == 204  # after the checkout named it
    assert (await confirm(client, checkout, customer_email="fresh@example.com")).status_code == 200
    created = await _paid_for(client, tenant, checkout)
    assert created != gone["id"]
    response = await client.get(f"/v1/customers/{created}", headers=tenant.headers)
    assert response.json()["email"] == "fresh@example.com"

    checkout = await create_checkout(
        client, tenant, product_id=product["id"], external_customer_id="new-ext"
    )
    assert (await confirm(client, checkout, customer_email="other@example.com")).status_code == 200
    response = await client.get(
        f"/v1/customers/{await _paid_for(client, tenant, checkout)}", headers=tenant.headers
    )
    assert response.json()["external_id"] == "new-ext"
    assert response.json()["email"] == "other@example.com"


async def test_an_email_of_a_customer_with_another_external_id_is_refused_and_nothing_written(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _customer(client, tenant, email="taken@example.com", external_id="someone-else")
    product = await create_product(client, tenant)
    checkout = await create_checkout(
        client, tenant, product_id=product["id"], external_customer_id="me"
    )
    response = await confirm(client, checkout, customer_email="taken@example.com")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "customer_email"]
    read = await client.get(f"/v1/checkouts/{checkout['id']}", headers=tenant.headers)
    assert read.json()["status"] == "open" and read.json()["customer_id"] is None
    async with sessionmaker() as session:
        payments = await session.scalar(
            select(func.count()).where(Payment.checkout_id == uuid.UUID(checkout["id"]))
        )
    assert payments == 0
    assert await _customers(sessionmaker, tenant) == 1


async def test_the_lookup_probes_one_customer_per_way_however_many_the_organization_has(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _customer(client, tenant, email="wanted@example.com", external_id="wanted")
    async with sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO customers (id, organization_id, type, email, external_id, "
                "email_verified, metadata, created_at) SELECT gen_random_uuid(), :organization, "
                "'individual', 'other' || n || '@example.com', 'other-' || n, false, '{}', now() "
                "FROM generate_series(1, 2000) AS n"
            ),
            {"organization": tenant.organization_id},
        )
        await session.execute(text("ANALYZE customers"))
        await session.commit()
    product = await create_product(client, tenant)
    checkout = await create_checkout(
        client, tenant, product_id=product["id"], external_customer_id="wanted"
    )

    async with sessionmaker() as session:
        raw = await sql.connection(session)
        [plan] = _json(
            await raw.fetchval(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {_FOR_CONFIRM}",
                checkout["client_secret"],
                "wanted@example.com",
            )
        )
        await session.rollback()
    customer_scans = [
        node for node in _nodes(plan["Plan"]) if node.get("Relation Name") == "customers"
    ]
    assert customer_scans and all("Index" in node["Node Type"] for node in customer_scans)
    # The named, external id and email ways: a row each at most, none read and thrown away.
    read = sum(
        node["Actual Rows"] + node.get("Rows Removed by Filter", 0) for node in customer_scans
    )
    assert read <= 3


def _json(value: Any) -> Any:
    """The session's connections decode json (SQLAlchemy's codec) or leave it text."""
    return json.loads(value) if isinstance(value, str) else value


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(below for child in node.get("Plans", []) for below in _nodes(child))]
