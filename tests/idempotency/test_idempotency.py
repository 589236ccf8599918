"""``Idempotency-Key``: replay, mismatch, in-flight conflict, and exactly one effect under
concurrent duplicates."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.conftest import Tenant

PRODUCT = {"name": "Idempotent", "prices": [{"amount_type": "fixed", "price_amount": 500}]}


def _headers(tenant: Tenant, key: str) -> dict[str, str]:
    return {**tenant.headers, "Idempotency-Key": key}


async def _count(client: httpx.AsyncClient, tenant: Tenant) -> int:
    listed = await client.get("/v1/products/", headers=tenant.headers)
    return int(listed.json()["pagination"]["total_count"])


async def test_same_key_same_body_replays(client: httpx.AsyncClient, tenant: Tenant) -> None:
    key = str(uuid.uuid4())
    first = await client.post("/v1/products/", headers=_headers(tenant, key), json=PRODUCT)
    second = await client.post("/v1/products/", headers=_headers(tenant, key), json=PRODUCT)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _count(client, tenant) == 1


async def test_same_key_other_body_is_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    key = str(uuid.uuid4())
    await client.post("/v1/products/", headers=_headers(tenant, key), json=PRODUCT)
    other = await client.post(
        "/v1/products/", headers=_headers(tenant, key), json={**PRODUCT, "name": "Other"}
    )
    assert other.status_code == 422
    assert other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert await _count(client, tenant) == 1


async def test_keys_are_per_token(client: httpx.AsyncClient, tenant: Tenant, make_tenant) -> None:  # type: ignore[no-untyped-def]
    other = await make_tenant()
    key = str(uuid.uuid4())
    mine = await client.post("/v1/products/", headers=_headers(tenant, key), json=PRODUCT)
    theirs = await client.post("/v1/products/", headers=_headers(other, key), json=PRODUCT)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


async def test_failed_request_does_not_consume_the_key(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    key = str(uuid.uuid4())
    bad = await client.post(
        "/v1/products/", headers=_headers(tenant, key), json={**PRODUCT, "name": "x"}
    )
    assert bad.status_code == 422
    good = await client.post(
        "/v1/products/", headers=_headers(tenant, key), json={**PRODUCT, "name": "Fixed"}
    )
    assert good.status_code == 201


async def test_invalid_key_is_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/v1/products/", headers=_headers(tenant, "k" * 300), json=PRODUCT)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]


async def test_concurrent_duplicates_create_exactly_one(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    key = str(uuid.uuid4())
    responses = await asyncio.gather(
        *(
            client.post("/v1/products/", headers=_headers(tenant, key), json=PRODUCT)
            for _ in range(20)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created_ids = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created_ids) == 1
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["error"] == "IdempotencyKeyInFlight"
    assert await _count(client, tenant) == 1

    # Once the first has committed, a retry replays it.
    retry = await client.post("/v1/products/", headers=_headers(tenant, key), json=PRODUCT)
    assert retry.status_code == 201
    assert retry.json()["id"] in created_ids


async def test_expired_key_is_forgotten(client: httpx.AsyncClient, tenant: Tenant) -> None:
    from datetime import timedelta

    from kassa.kit import clock

    key = str(uuid.uuid4())
    first = await client.post("/v1/products/", headers=_headers(tenant, key), json=PRODUCT)
    clock.advance(timedelta(hours=24, seconds=1))
    try:
        again = await client.post("/v1/products/", headers=_headers(tenant, key), json=PRODUCT)
    finally:
        clock.reset()
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
