"""A token of one organization can neither read nor change another's data: always 404."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Tenant, TenantFactory

PRODUCT = {"name": "Owner's product", "prices": [{"amount_type": "fixed", "price_amount": 900}]}


@pytest.fixture
async def owner_and_intruder(make_tenant: TenantFactory) -> tuple[Tenant, Tenant]:
    return await make_tenant(), await make_tenant()


async def test_products_are_isolated(
    client: httpx.AsyncClient, owner_and_intruder: tuple[Tenant, Tenant]
) -> None:
    owner, intruder = owner_and_intruder
    created = await client.post("/v1/products/", headers=owner.headers, json=PRODUCT)
    product_id = created.json()["id"]
    path = f"/v1/products/{product_id}"

    assert (await client.get(path, headers=intruder.headers)).status_code == 404
    patch = await client.patch(path, headers=intruder.headers, json={"name": "Stolen"})
    assert patch.status_code == 404
    assert patch.json() == {"error": "ResourceNotFound", "detail": "Not found"}
    archive = await client.patch(path, headers=intruder.headers, json={"is_archived": True})
    assert archive.status_code == 404

    listed = await client.get(
        "/v1/products/",
        headers=intruder.headers,
        params={"id": product_id, "organization_id": str(owner.organization_id)},
    )
    assert listed.json()["items"] == []
    assert listed.json()["pagination"]["total_count"] == 0

    unchanged = await client.get(path, headers=owner.headers)
    assert unchanged.json()["name"] == PRODUCT["name"]
    assert unchanged.json()["is_archived"] is False


async def test_customers_are_isolated(
    client: httpx.AsyncClient, owner_and_intruder: tuple[Tenant, Tenant]
) -> None:
    owner, intruder = owner_and_intruder
    created = await client.post(
        "/v1/customers/",
        headers=owner.headers,
        json={"email": "iso@example.com", "external_id": "iso-1"},
    )
    customer_id = created.json()["id"]
    for path in (f"/v1/customers/{customer_id}", "/v1/customers/external/iso-1"):
        assert (await client.get(path, headers=intruder.headers)).status_code == 404
        patch = await client.patch(path, headers=intruder.headers, json={"name": "Stolen"})
        assert patch.status_code == 404
        assert (await client.delete(path, headers=intruder.headers)).status_code == 404

    listed = await client.get("/v1/customers/", headers=intruder.headers, params={"query": "iso"})
    assert listed.json()["items"] == []
    survivor = await client.get(f"/v1/customers/{customer_id}", headers=owner.headers)
    assert survivor.status_code == 200
    assert survivor.json()["name"] is None

    # The same email and external id are free in another organization.
    twin = await client.post(
        "/v1/customers/",
        headers=intruder.headers,
        json={"email": "iso@example.com", "external_id": "iso-1"},
    )
    assert twin.status_code == 201


async def test_organizations_are_isolated(
    client: httpx.AsyncClient, owner_and_intruder: tuple[Tenant, Tenant]
) -> None:
    owner, intruder = owner_and_intruder
    path = f"/v1/organizations/{owner.organization_id}"
    assert (await client.get(path, headers=intruder.headers)).status_code == 404
    listed = await client.get("/v1/organizations/", headers=intruder.headers)
    assert [item["id"] for item in listed.json()["items"]] == [str(intruder.organization_id)]


@pytest.mark.parametrize("resource", ["products", "customers"])
async def test_cannot_create_in_another_organization(
    client: httpx.AsyncClient, owner_and_intruder: tuple[Tenant, Tenant], resource: str
) -> None:
    owner, intruder = owner_and_intruder
    body = PRODUCT if resource == "products" else {"email": "x@example.com"}
    response = await client.post(
        f"/v1/{resource}/",
        headers=intruder.headers,
        json={**body, "organization_id": str(owner.organization_id)},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "organization_id"]
    listed = await client.get(f"/v1/{resource}/", headers=owner.headers)
    assert listed.json()["pagination"]["total_count"] == 0
