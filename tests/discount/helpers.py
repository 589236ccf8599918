"""Small factories for discount tests: bodies, and calls to the API that must succeed."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Tenant
from tests.support.api import list_page

JSON = dict[str, Any]
Loc = tuple[str | int, ...]


def percentage(basis_points: int = 1000, **fields: Any) -> JSON:
    return {
        "name": "Ten percent",
        "type": "percentage",
        "basis_points": basis_points,
        "duration": "once",
        **fields,
    }


def fixed(amount: int = 500, currency: str = "usd", **fields: Any) -> JSON:
    return {
        "name": "Five off",
        "type": "fixed",
        "amount": amount,
        "currency": currency,
        "duration": "once",
        **fields,
    }


async def create_discount(client: httpx.AsyncClient, tenant: Tenant, body: JSON) -> JSON:
    response = await client.post("/v1/discounts/", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    discount: JSON = response.json()
    return discount


async def get_discount(client: httpx.AsyncClient, tenant: Tenant, discount_id: str) -> JSON:
    response = await client.get(f"/v1/discounts/{discount_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    discount: JSON = response.json()
    return discount


async def update_discount(
    client: httpx.AsyncClient, tenant: Tenant, discount_id: str, **fields: Any
) -> httpx.Response:
    return await client.patch(f"/v1/discounts/{discount_id}", json=fields, headers=tenant.headers)


async def list_discounts(client: httpx.AsyncClient, tenant: Tenant, params: Any = None) -> JSON:
    return await list_page(client, tenant, "/v1/discounts/", params)


async def create_product(client: httpx.AsyncClient, tenant: Tenant, name: str = "Widget") -> JSON:
    body = {
        "name": name,
        "prices": [{"amount_type": "fixed", "price_amount": 1000, "price_currency": "usd"}],
    }
    response = await client.post("/v1/products/", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    product: JSON = response.json()
    return product


def assert_names_field(response: httpx.Response, expected: Loc) -> None:
    """A 422 whose ``detail`` has an error at ``expected``; a tagged union may add the tag
    (``fixed`` / ``percentage``) after ``body``."""
    assert response.status_code == 422, response.text
    found = [tuple(error["loc"]) for error in response.json()["detail"]]
    untagged = [
        loc[:1] + loc[2:] if len(loc) > 1 and loc[1] in ("fixed", "percentage") else loc
        for loc in found
    ]
    assert any(loc[: len(expected)] == expected for loc in untagged), found
    for error in response.json()["detail"]:
        assert isinstance(error["msg"], str) and error["msg"]
