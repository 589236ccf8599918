from __future__ import annotations

import httpx

from tests.conftest import Tenant


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}


async def test_organization_of_the_token(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(
        f"/v1/organizations/{tenant.organization_id}", headers=tenant.headers
    )
    assert response.status_code == 200
    assert response.json()["id"] == str(tenant.organization_id)
