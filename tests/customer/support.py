"""Calls of the customers API that the customer tests share."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.models import Customer
from tests.conftest import Tenant
from tests.support.api import list_page

JSON = dict[str, Any]


async def create_customer(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> JSON:
    body: JSON = {"email": "jane@example.com", **fields}
    response = await client.post("/v1/customers/", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    customer: JSON = response.json()
    return customer


async def post_customer(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> httpx.Response:
    return await client.post("/v1/customers/", json=body, headers=tenant.headers)


async def get(client: httpx.AsyncClient, tenant: Tenant, path: str) -> httpx.Response:
    return await client.get(f"/v1/customers/{path}", headers=tenant.headers)


async def patch(
    client: httpx.AsyncClient, tenant: Tenant, path: str, **body: Any
) -> httpx.Response:
    return await client.patch(f"/v1/customers/{path}", json=body, headers=tenant.headers)


async def delete(
    client: httpx.AsyncClient, tenant: Tenant, path: str, **params: Any
) -> httpx.Response:
    return await client.delete(f"/v1/customers/{path}", params=params, headers=tenant.headers)


async def list_customers(client: httpx.AsyncClient, tenant: Tenant, params: Any = None) -> JSON:
    return await list_page(client, tenant, "/v1/customers/", params)


async def customer_count(client: httpx.AsyncClient, tenant: Tenant) -> int:
    count: int = (await list_customers(client, tenant))["pagination"]["total_count"]
    return count


def emails(page: JSON) -> list[str]:
    return [item["email"] for item in page["items"]]


def assert_invalid(response: httpx.Response, loc: list[str | int]) -> None:
    assert response.status_code == 422, response.text
    assert loc in [error["loc"] for error in response.json()["detail"]], response.text


async def read_row(sessionmaker: async_sessionmaker[AsyncSession], customer_id: str) -> Customer:
    async with sessionmaker() as session:
        row = await session.get(Customer, uuid.UUID(customer_id))
    assert row is not None
    return row
