"""Who may call: garbage, unknown, expired and revoked tokens are 401; missing scopes are 403."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from kassa.auth.scopes import Scope
from kassa.kit import clock
from tests.conftest import Tenant, TenantFactory

PROTECTED = [
    ("GET", "/v1/products/"),
    ("POST", "/v1/products/"),
    ("GET", "/v1/products/6f1c2a1e-0d7b-4a4e-9a55-0c1f3f8b2d11"),
    ("GET", "/v1/customers/"),
    ("POST", "/v1/customers/"),
    ("GET", "/v1/customers/external/abc"),
    ("GET", "/v1/organizations/"),
    ("GET", "/v1/organization-access-tokens/"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer garbage",
        "Basic dXNlcjpwYXNz",
        "Bearer kassa_oat_" + "x" * 43,
        "Bearer kassa_oat_" + "\u00e9" * 30,
    ],
)
async def test_bad_credentials_are_401(
    client: httpx.AsyncClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization.encode()} if authorization is not None else {}
    response = await client.request(method, path, headers=headers, json={})
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "Unauthorized"


async def test_expired_token_is_401(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    tenant = await make_tenant(expires_in=timedelta(hours=1))
    assert (await client.get("/v1/products/", headers=tenant.headers)).status_code == 200
    clock.advance(timedelta(hours=1, seconds=1))
    try:
        response = await client.get("/v1/products/", headers=tenant.headers)
    finally:
        clock.reset()
    assert response.status_code == 401


async def test_revoked_token_is_401(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await client.post(
        "/v1/organization-access-tokens/",
        headers=tenant.headers,
        json={"comment": "ci", "scopes": ["products:read"]},
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    token_id = created.json()["organization_access_token"]["id"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v1/products/", headers=headers)).status_code == 200

    revoked = await client.delete(
        f"/v1/organization-access-tokens/{token_id}", headers=tenant.headers
    )
    assert revoked.status_code == 204
    assert (await client.get("/v1/products/", headers=headers)).status_code == 401


@pytest.mark.parametrize(
    ("scopes", "method", "path", "expected"),
    [
        ({Scope.products_read}, "GET", "/v1/products/", 200),
        ({Scope.products_write}, "GET", "/v1/products/", 200),
        ({Scope.products_read}, "POST", "/v1/products/", 403),
        ({Scope.customers_read}, "GET", "/v1/products/", 403),
        ({Scope.products_read}, "GET", "/v1/customers/", 403),
        ({Scope.customers_read}, "POST", "/v1/customers/", 403),
        ({Scope.customers_read}, "GET", "/v1/customers/", 200),
        ({Scope.products_read}, "GET", "/v1/organization-access-tokens/", 403),
    ],
)
async def test_scopes(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    scopes: set[Scope],
    method: str,
    path: str,
    expected: int,
) -> None:
    tenant = await make_tenant(scopes=frozenset(scopes))
    body = {"name": "Scoped", "prices": [{"amount_type": "fixed", "price_amount": 100}]}
    response = await client.request(method, path, headers=tenant.headers, json=body)
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.json()["error"] == "NotPermitted"


async def test_forbidden_write_leaves_nothing(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant(scopes=frozenset({Scope.products_read}))
    body = {"name": "Not allowed", "prices": [{"amount_type": "fixed", "price_amount": 100}]}
    assert (
        await client.post("/v1/products/", headers=tenant.headers, json=body)
    ).status_code == 403
    listed = await client.get("/v1/products/", headers=tenant.headers)
    assert listed.json()["pagination"]["total_count"] == 0
