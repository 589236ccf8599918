"""Real responses validated against the Polar contract's schemas, and Kassa's OpenAPI document
compared with the contract's operations so that drift shows up as a failing test."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant, TenantFactory
from tests.contract import assert_conforms, contract, extra_fields, schema_errors

JSON = dict[str, Any]
HTTP_METHODS = frozenset({"get", "put", "post", "patch", "delete", "head", "options", "trace"})

# Contract operations on paths Kassa serves that Kassa does not implement yet.
NOT_YET_SERVED = frozenset(
    {
        ("/v1/organizations/", "post"),
        ("/v1/organizations/{id}", "patch"),
        ("/v1/orders/", "post"),  # manual (draft) orders
    }
)


async def post(client: httpx.AsyncClient, tenant: Tenant, path: str, body: JSON) -> JSON:
    response = await client.post(path, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created: JSON = response.json()
    return created


async def get_json(client: httpx.AsyncClient, tenant: Tenant, path: str, **params: Any) -> JSON:
    response = await client.get(path, params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


def test_the_validator_catches_broken_documents() -> None:
    assert schema_errors("Product", {"id": str(uuid.uuid4())})
    assert schema_errors("Pagination", {"total_count": 1.5, "max_page": 1})
    assert schema_errors("ResourceNotFound", {"error": "NotFound", "detail": "x"})
    assert schema_errors("HTTPValidationError", {"detail": [{"loc": ["body"], "msg": "x"}]})


async def test_the_validator_catches_a_broken_real_product(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """The refs resolve all the way down: breaking a nested field of a real response fails."""
    product = await post(client, tenant, "/v1/products/", PRODUCT_BODIES["one-time fixed"])
    assert not schema_errors("Product", product)

    broken_price = {**product["prices"][0], "price_amount": "1250"}
    assert schema_errors("Product", {**product, "prices": [broken_price]})
    assert schema_errors("Product", {**product, "visibility": "hidden"})
    assert schema_errors("Product", {**product, "metadata": {"k": {"nested": 1}}})
    assert schema_errors("Product", {k: v for k, v in product.items() if k != "meter_interval"})


# Products

PRODUCT_BODIES: dict[str, JSON] = {
    "one-time fixed": {
        "name": "E-book",
        "description": "A good read",
        "prices": [{"amount_type": "fixed", "price_amount": 1250, "price_currency": "usd"}],
        "metadata": {"s": "x", "i": 1, "f": 1.5, "b": True},
    },
    "recurring": {
        "name": "Pro plan",
        "recurring_interval": "month",
        "recurring_interval_count": 3,
        "trial_interval": "day",
        "trial_interval_count": 7,
        "prices": [
            {"amount_type": "fixed", "price_amount": 900, "price_currency": "eur"},
            {"amount_type": "fixed", "price_amount": 1200, "price_currency": "jpy"},
        ],
    },
    "custom": {
        "name": "Tip jar",
        "visibility": "private",
        "prices": [
            {
                "amount_type": "custom",
                "minimum_amount": 100,
                "maximum_amount": 5000,
                "preset_amount": 500,
                "tax_behavior": "inclusive",
            }
        ],
    },
    "custom without bounds": {"name": "Donation", "prices": [{"amount_type": "custom"}]},
    "free": {"name": "Sampler", "visibility": "draft", "prices": [{"amount_type": "free"}]},
}


@pytest.mark.parametrize("body", PRODUCT_BODIES.values(), ids=PRODUCT_BODIES.keys())
async def test_product_responses(client: httpx.AsyncClient, tenant: Tenant, body: JSON) -> None:
    created = await post(client, tenant, "/v1/products/", body)
    assert_conforms("Product", created)

    path = f"/v1/products/{created['id']}"
    assert_conforms("Product", await get_json(client, tenant, path))

    updated = await client.patch(
        path, json={"name": "Renamed", "is_archived": True}, headers=tenant.headers
    )
    assert updated.status_code == 200, updated.text
    assert_conforms("Product", updated.json())

    assert_conforms("ListResource_Product_", await get_json(client, tenant, "/v1/products/"))


async def test_product_list_responses(client: httpx.AsyncClient, tenant: Tenant) -> None:
    assert_conforms("ListResource_Product_", await get_json(client, tenant, "/v1/products/"))
    for body in PRODUCT_BODIES.values():
        await post(client, tenant, "/v1/products/", body)
    page = await get_json(client, tenant, "/v1/products/", limit=100)
    assert len(page["items"]) == len(PRODUCT_BODIES)
    assert_conforms("ListResource_Product_", page)


async def test_product_with_replaced_prices(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await post(client, tenant, "/v1/products/", PRODUCT_BODIES["recurring"])
    kept = {"id": product["prices"][0]["id"]}
    new = {"amount_type": "custom", "price_currency": "usd", "minimum_amount": 0}

    response = await client.patch(
        f"/v1/products/{product['id']}", json={"prices": [kept, new]}, headers=tenant.headers
    )

    assert response.status_code == 200, response.text
    assert_conforms("Product", response.json())


# Customers

CUSTOMER_BODIES: dict[str, JSON] = {
    "individual": {"email": "jane@example.com"},
    "individual with everything": {
        "email": "jane@example.com",
        "name": "Jane Doe",
        "external_id": "user_1",
        "locale": "de-DE",
        "metadata": {"plan": "pro", "seats": 2, "ratio": 0.5, "vip": False},
        "billing_address": {"line1": "Unter den Linden 1", "city": "Berlin", "country": "DE"},
        "tax_id": "DE136695976",
    },
    "team without email": {"type": "team", "name": "Acme"},
    "team with email": {"type": "team", "email": "billing@acme.com"},
}


@pytest.mark.parametrize("body", CUSTOMER_BODIES.values(), ids=CUSTOMER_BODIES.keys())
async def test_customer_responses(client: httpx.AsyncClient, tenant: Tenant, body: JSON) -> None:
    created = await post(client, tenant, "/v1/customers/", body)
    assert_conforms("Customer", created)

    path = f"/v1/customers/{created['id']}"
    assert_conforms("Customer", await get_json(client, tenant, path))

    updated = await client.patch(path, json={"name": "Renamed"}, headers=tenant.headers)
    assert updated.status_code == 200, updated.text
    assert_conforms("Customer", updated.json())

    if body.get("external_id"):
        external = await get_json(client, tenant, f"/v1/customers/external/{body['external_id']}")
        assert_conforms("Customer", external)

    assert_conforms("ListResource_Customer_", await get_json(client, tenant, "/v1/customers/"))


async def test_customer_list_responses(client: httpx.AsyncClient, tenant: Tenant) -> None:
    assert_conforms("ListResource_Customer_", await get_json(client, tenant, "/v1/customers/"))
    await post(client, tenant, "/v1/customers/", CUSTOMER_BODIES["individual with everything"])
    await post(client, tenant, "/v1/customers/", CUSTOMER_BODIES["team without email"])
    page = await get_json(client, tenant, "/v1/customers/")
    assert len(page["items"]) == 2
    assert_conforms("ListResource_Customer_", page)


# Fields outside the contract: SDKs ignore them, but each one must be a deliberate extension.

KASSA_EXTENSIONS: dict[str, set[str]] = {
    # Whether the product can still be deleted (no order, subscription or discount uses it).
    "Product": {"is_deletable"},
}


async def test_no_undocumented_fields(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await post(client, tenant, "/v1/products/", PRODUCT_BODIES["recurring"])
    custom = await post(client, tenant, "/v1/products/", PRODUCT_BODIES["custom"])
    customer = await post(
        client, tenant, "/v1/customers/", CUSTOMER_BODIES["individual with everything"]
    )
    team = await post(client, tenant, "/v1/customers/", CUSTOMER_BODIES["team without email"])
    organization = await get_json(client, tenant, f"/v1/organizations/{tenant.organization_id}")
    page = await get_json(client, tenant, "/v1/products/")
    documents: list[tuple[str, JSON]] = [
        ("Product", product),
        ("ProductPrice", product["prices"][0]),
        ("ProductPrice", custom["prices"][0]),
        ("Customer", customer),
        ("Customer", team),
        ("Address", customer["billing_address"]),
        ("Organization", organization),
        ("ListResource_Product_", page),
        ("Pagination", page["pagination"]),
    ]
    undocumented = {
        f"{name}.{field}"
        for name, document in documents
        for field in extra_fields(name, document) - KASSA_EXTENSIONS.get(name, set())
    }
    assert not undocumented


# Organizations


async def test_organization_response(client: httpx.AsyncClient, tenant: Tenant) -> None:
    organization = await get_json(client, tenant, f"/v1/organizations/{tenant.organization_id}")
    assert_conforms("Organization", organization)
    assert_conforms(
        "ListResource_Organization_", await get_json(client, tenant, "/v1/organizations/")
    )


# Errors


async def _validation_errors(client: httpx.AsyncClient, tenant: Tenant) -> list[httpx.Response]:
    headers = tenant.headers
    product = await post(client, tenant, "/v1/products/", PRODUCT_BODIES["one-time fixed"])
    await post(client, tenant, "/v1/customers/", {"email": "taken@example.com"})
    return [
        # Request validation (pydantic), in body, path and query.
        await client.post("/v1/products/", json={"name": "x", "prices": []}, headers=headers),
        await client.post(
            "/v1/products/",
            json={"name": "Widget", "prices": [{"amount_type": "fixed", "price_amount": 10.5}]},
            headers=headers,
        ),
        await client.get("/v1/products/not-a-uuid", headers=headers),
        await client.get("/v1/customers/", params={"limit": 0}, headers=headers),
        await client.post(
            "/v1/products/",
            content=b"{not json",
            headers={**headers, "Content-Type": "application/json"},
        ),
        # Business rules (ValidationFailed).
        await client.post("/v1/customers/", json={"email": "taken@example.com"}, headers=headers),
        await client.patch(
            f"/v1/products/{product['id']}", json={"recurring_interval": "year"}, headers=headers
        ),
        await client.get("/v1/products/", params={"metadata": "x"}, headers=headers),
    ]


async def test_422_responses(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for response in await _validation_errors(client, tenant):
        assert response.status_code == 422, (response.request.url, response.text)
        assert_conforms("HTTPValidationError", response.json())
        assert response.json()["detail"], response.text


async def test_404_responses(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    missing = uuid.uuid4()
    responses = [
        await client.get(f"/v1/products/{missing}", headers=tenant.headers),
        await client.patch(f"/v1/products/{missing}", json={}, headers=tenant.headers),
        await client.get(f"/v1/customers/{missing}", headers=tenant.headers),
        await client.delete(f"/v1/customers/{missing}", headers=tenant.headers),
        await client.get("/v1/customers/external/nobody", headers=tenant.headers),
        await client.get(f"/v1/organizations/{other.organization_id}", headers=tenant.headers),
    ]
    for response in responses:
        assert response.status_code == 404, (response.request.url, response.text)
        assert_conforms("ResourceNotFound", response.json())


async def test_404_for_an_unknown_route(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/v1/no-such-resource/", headers=tenant.headers)
    assert response.status_code == 404
    assert_conforms("ResourceNotFound", response.json())


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer kassa_oat_not-a-real-token"},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "unknown token", "malformed token", "basic auth", "empty bearer"],
)
@pytest.mark.parametrize("path", ["/v1/products/", "/v1/customers/", "/v1/organizations/"])
async def test_401_responses(client: httpx.AsyncClient, headers: JSON, path: str) -> None:
    response = await client.get(path, headers=headers)

    assert response.status_code == 401
    assert_conforms("Unauthorized", response.json())


async def test_403_responses(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    tenant = await make_tenant(scopes=frozenset({"organizations:read"}))
    product = {"name": "Widget", "prices": [{"amount_type": "free"}]}
    responses = [
        await client.get("/v1/products/", headers=tenant.headers),
        await client.post("/v1/products/", json=product, headers=tenant.headers),
        await client.get("/v1/customers/", headers=tenant.headers),
        await client.post("/v1/customers/", json={"email": "a@b.com"}, headers=tenant.headers),
    ]
    for response in responses:
        assert response.status_code == 403, (response.request.url, response.text)
        assert_conforms("NotPermitted", response.json())


# Kassa's OpenAPI document against the contract


async def kassa_openapi(client: httpx.AsyncClient) -> JSON:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document: JSON = response.json()
    return document


def operations(document: JSON, prefix: str = "/v1/") -> dict[tuple[str, str], JSON]:
    return {
        (path, method): operation
        for path, item in document["paths"].items()
        if path.startswith(prefix)
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def success_status(operation: JSON) -> str:
    [status] = [str(code) for code in operation["responses"] if str(code).startswith("2")]
    return status


async def test_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    document = await kassa_openapi(client)

    assert document["openapi"].startswith("3.")
    assert document["info"]["title"]
    for path in ("/v1/products/", "/v1/products/{id}", "/v1/customers/{id}"):
        assert path in document["paths"], path


async def test_served_operations_match_the_contract(client: httpx.AsyncClient) -> None:
    kassa = operations(await kassa_openapi(client))
    polar = operations(contract())
    shared_paths = {path for path, _ in kassa} & {path for path, _ in polar}
    assert {"/v1/products/", "/v1/customers/{id}"} <= shared_paths

    drift = []
    for path in sorted(shared_paths):
        served = {method for p, method in kassa if p == path}
        expected = {method for p, method in polar if p == path}
        expected -= {method for p, method in NOT_YET_SERVED if p == path}
        if served != expected:
            drift.append(f"{path}: Kassa serves {sorted(served)}, contract has {sorted(expected)}")
        for method in sorted(served & expected):
            ours, theirs = success_status(kassa[path, method]), success_status(polar[path, method])
            if ours != theirs:
                drift.append(f"{method.upper()} {path}: Kassa answers {ours}, contract {theirs}")
    assert not drift, "\n".join(drift)


async def test_not_yet_served_operations_are_still_in_the_contract(
    client: httpx.AsyncClient,
) -> None:
    """Keeps NOT_YET_SERVED honest: an entry goes once Kassa serves it."""
    kassa, polar = operations(await kassa_openapi(client)), operations(contract())
    for operation in NOT_YET_SERVED:
        assert operation in polar, operation
        assert operation not in kassa, f"{operation} is served now: drop it from NOT_YET_SERVED"


async def test_served_operations_outside_the_contract_are_known(
    client: httpx.AsyncClient,
) -> None:
    """Kassa-only operations under /v1/ are deliberate; a typo'd path would show up here."""
    kassa, polar = operations(await kassa_openapi(client)), operations(contract())
    extra = {path for path, _ in kassa} - {path for path, _ in polar}
    assert extra == {
        "/v1/organization-access-tokens/",
        "/v1/organization-access-tokens/{id}",
        "/v1/sandbox/payment-methods",
        "/v1/integrations/stripe/webhook",
    }
