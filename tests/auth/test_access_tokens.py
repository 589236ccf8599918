"""The organization access token API."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.auth.scopes import Scope
from kassa.models import OrganizationAccessToken
from tests.conftest import Tenant, TenantFactory


async def test_create_list_update_revoke(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await client.post(
        "/v1/organization-access-tokens/",
        headers=tenant.headers,
        json={
            "comment": "deploy",
            "scopes": ["products:read", "customers:write"],
            "expires_in": "P30D",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["token"].startswith("kassa_oat_")
    token = body["organization_access_token"]
    assert token["comment"] == "deploy"
    assert sorted(token["scopes"]) == ["customers:write", "products:read"]
    assert token["expires_at"] is not None
    assert token["organization_id"] == str(tenant.organization_id)

    listed = await client.get("/v1/organization-access-tokens/", headers=tenant.headers)
    assert listed.status_code == 200
    ids = [item["id"] for item in listed.json()["items"]]
    assert token["id"] in ids

    updated = await client.patch(
        f"/v1/organization-access-tokens/{token['id']}",
        headers=tenant.headers,
        json={"comment": "deploy v2", "scopes": ["products:read"]},
    )
    assert updated.status_code == 200
    assert updated.json()["comment"] == "deploy v2"
    assert updated.json()["scopes"] == ["products:read"]
    new_headers = {"Authorization": f"Bearer {body['token']}"}
    assert (await client.get("/v1/customers/", headers=new_headers)).status_code == 403

    revoked = await client.delete(
        f"/v1/organization-access-tokens/{token['id']}", headers=tenant.headers
    )
    assert revoked.status_code == 204
    listed = await client.get("/v1/organization-access-tokens/", headers=tenant.headers)
    assert token["id"] not in [item["id"] for item in listed.json()["items"]]


async def test_token_is_stored_only_as_a_keyed_hash(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    created = await client.post(
        "/v1/organization-access-tokens/",
        headers=tenant.headers,
        json={"comment": "hash", "scopes": ["products:read"]},
    )
    token = created.json()["token"]
    async with sessionmaker() as session:
        rows = (await session.execute(select(OrganizationAccessToken))).scalars().all()
    for row in rows:
        assert token.encode() not in row.token_hash
        assert len(row.token_hash) == 32


async def test_cannot_grant_more_than_it_has(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant(
        scopes=frozenset({Scope.organization_access_tokens_write, Scope.products_read})
    )
    response = await client.post(
        "/v1/organization-access-tokens/",
        headers=tenant.headers,
        json={"comment": "escalate", "scopes": ["products:write"]},
    )
    assert response.status_code == 403
    assert "products:write" in response.json()["detail"]


async def test_token_management_scopes_are_not_grantable(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await client.post(
        "/v1/organization-access-tokens/",
        headers=tenant.headers,
        json={"comment": "x", "scopes": ["organization_access_tokens:write"]},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "scopes"]


async def test_invalid_expiry_and_scope_are_422(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for body, field in [
        ({"comment": "x", "scopes": ["products:read"], "expires_in": "-P1D"}, "expires_in"),
        ({"comment": "x", "scopes": ["products:read"], "expires_in": "soon"}, "expires_in"),
        ({"comment": "x", "scopes": ["not-a-scope"]}, "scopes"),
        ({"scopes": ["products:read"]}, "comment"),
    ]:
        response = await client.post(
            "/v1/organization-access-tokens/", headers=tenant.headers, json=body
        )
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["detail"][0]["loc"], response.json()


async def test_other_organizations_tokens_are_invisible(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    owner = await make_tenant()
    intruder = await make_tenant()
    created = await client.post(
        "/v1/organization-access-tokens/",
        headers=owner.headers,
        json={"comment": "mine", "scopes": ["products:read"]},
    )
    token_id = created.json()["organization_access_token"]["id"]
    path = f"/v1/organization-access-tokens/{token_id}"
    assert (
        await client.patch(path, headers=intruder.headers, json={"comment": "x"})
    ).status_code == 404
    assert (await client.delete(path, headers=intruder.headers)).status_code == 404
    listed = await client.get("/v1/organization-access-tokens/", headers=intruder.headers)
    assert token_id not in [item["id"] for item in listed.json()["items"]]
