"""Listing customers: pages, filters, sorting, scoping; and input PostgreSQL cannot carry."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Tenant, TenantFactory
from tests.customer.support import (
    JSON,
    assert_invalid,
    create_customer,
    customer_count,
    delete,
    emails,
    get,
    list_customers,
    post_customer,
)


async def test_list_pagination(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = {
        (await create_customer(client, tenant, email=f"c{i}@example.com"))["id"] for i in range(5)
    }

    pages = [await list_customers(client, tenant, {"page": n, "limit": 2}) for n in (1, 2, 3)]

    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    assert all(page["pagination"] == {"total_count": 5, "max_page": 3} for page in pages)
    assert {item["id"] for page in pages for item in page["items"]} == created


async def test_list_is_scoped_and_excludes_deleted(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    await create_customer(client, other, email="other@example.com")
    kept = await create_customer(client, tenant, email="kept@example.com")
    gone = await create_customer(client, tenant, email="gone@example.com")
    await delete(client, tenant, gone["id"])

    page = await list_customers(client, tenant)

    assert [item["id"] for item in page["items"]] == [kept["id"]]
    assert page["pagination"]["total_count"] == 1


async def test_filter_by_email(client: httpx.AsyncClient, tenant: Tenant) -> None:
    jane = await create_customer(client, tenant, email="jane@example.com")
    await create_customer(client, tenant, email="jane.doe@example.com")

    page = await list_customers(client, tenant, {"email": "JANE@example.com"})

    assert [item["id"] for item in page["items"]] == [jane["id"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ali", ["alice@example.com"]),
        ("Smith", ["bob@example.com"]),
        ("crm_7", ["carol@example.com"]),
        ("crm_", ["carol@example.com"]),
        ("100%", ["dave@example.com"]),
        ("%", ["dave@example.com"]),
        (
            "EXAMPLE.COM",
            ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"],
        ),
        ("nobody", []),
    ],
)
async def test_filter_by_query(
    client: httpx.AsyncClient, tenant: Tenant, query: str, expected: list[str]
) -> None:
    await create_customer(client, tenant, email="alice@example.com")
    await create_customer(client, tenant, email="bob@example.com", name="Bob Smith")
    await create_customer(client, tenant, email="carol@example.com", external_id="crm_7")
    await create_customer(client, tenant, email="dave@example.com", name="Dave 100% real")
    await create_customer(client, tenant, email="erin@example.org", external_id="crmX7")

    page = await list_customers(client, tenant, {"query": query})

    assert sorted(emails(page)) == expected


async def test_filter_by_metadata(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create_customer(client, tenant, email="a@example.com", metadata={"plan": "pro"})
    await create_customer(client, tenant, email="b@example.com", metadata={"plan": "free"})
    await create_customer(client, tenant, email="c@example.com", metadata={"plan": "pro", "n": 1})

    pro = await list_customers(client, tenant, {"metadata[plan]": "pro"})
    assert sorted(emails(pro)) == ["a@example.com", "c@example.com"]
    both = await list_customers(client, tenant, {"metadata[plan]": "pro", "metadata[n]": "1"})
    assert emails(both) == ["c@example.com"]
    either = [("metadata[plan]", "pro"), ("metadata[plan]", "free")]
    assert len((await list_customers(client, tenant, either))["items"]) == 3


async def test_sorting(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create_customer(client, tenant, email="b@example.com", name="Alpha")
    await create_customer(client, tenant, email="c@example.com", name="Charlie")
    await create_customer(client, tenant, email="a@example.com", name="Bravo")

    async def sorted_by(sorting: str) -> list[str]:
        return emails(await list_customers(client, tenant, {"sorting": sorting}))

    assert await sorted_by("email") == ["a@example.com", "b@example.com", "c@example.com"]
    assert await sorted_by("-email") == ["c@example.com", "b@example.com", "a@example.com"]
    assert await sorted_by("-name") == ["c@example.com", "a@example.com", "b@example.com"]
    assert await sorted_by("name") == ["b@example.com", "a@example.com", "c@example.com"]
    assert await sorted_by("created_at") == ["b@example.com", "c@example.com", "a@example.com"]
    assert emails(await list_customers(client, tenant)) == [
        "a@example.com",
        "c@example.com",
        "b@example.com",
    ]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 101}, ["query", "limit"]),
        ({"page": 0}, ["query", "page"]),
        ({"sorting": "phone"}, ["query", "sorting", 0]),
        ({"organization_id": "nope"}, ["query", "organization_id", 0]),
    ],
)
async def test_bad_list_parameters(
    client: httpx.AsyncClient, tenant: Tenant, params: JSON, loc: list[str | int]
) -> None:
    response = await client.get("/v1/customers/", params=params, headers=tenant.headers)
    assert_invalid(response, loc)


async def test_read_only_token_cannot_write(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    reader = await make_tenant(scopes=frozenset({"customers:read"}))

    response = await post_customer(client, reader, email="jane@example.com")

    assert response.status_code == 403
    assert response.json()["error"] == "NotPermitted"
    assert await customer_count(client, reader) == 0


# Input PostgreSQL cannot carry: still a 4xx (or an empty answer), never a 500.


async def test_nul_character_in_external_id_path(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await get(client, tenant, "external/a%00b")
    assert response.status_code in (404, 422), response.text


async def test_nul_character_in_list_filters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(
        "/v1/customers/", params={"email": "a\x00b@example.com"}, headers=tenant.headers
    )
    assert response.status_code in (200, 422), response.text
