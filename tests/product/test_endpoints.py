from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant, TenantFactory
from tests.support.api import list_page

JSON = dict[str, Any]


def fixed_price(amount: int = 1000, currency: str = "usd") -> JSON:
    return {"amount_type": "fixed", "price_amount": amount, "price_currency": currency}


async def create_product(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> JSON:
    body: JSON = {"name": "Widget", "prices": [fixed_price()], **fields}
    response = await client.post("/v1/products/", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    product: JSON = response.json()
    return product


async def get_product(client: httpx.AsyncClient, tenant: Tenant, product_id: str) -> JSON:
    response = await client.get(f"/v1/products/{product_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    product: JSON = response.json()
    return product


async def update_product(
    client: httpx.AsyncClient, tenant: Tenant, product_id: str, **fields: Any
) -> httpx.Response:
    return await client.patch(f"/v1/products/{product_id}", json=fields, headers=tenant.headers)


async def list_products(client: httpx.AsyncClient, tenant: Tenant, params: Any = None) -> JSON:
    return await list_page(client, tenant, "/v1/products/", params)


def names(page: JSON) -> list[str]:
    return [item["name"] for item in page["items"]]


def ids(page: JSON) -> set[str]:
    return {item["id"] for item in page["items"]}


# Create


async def test_create_one_time_fixed_price_product(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(
        client, tenant, name="E-book", description="A good read", prices=[fixed_price(1250)]
    )

    uuid.UUID(product["id"])
    assert product["name"] == "E-book"
    assert product["description"] == "A good read"
    assert product["visibility"] == "public"
    assert product["organization_id"] == str(tenant.organization_id)
    assert product["is_recurring"] is False
    assert product["recurring_interval"] is None
    assert product["recurring_interval_count"] is None
    assert product["trial_interval"] is None
    assert product["is_archived"] is False
    assert product["metadata"] == {}
    assert product["benefits"] == []
    assert product["medias"] == []
    assert product["attached_custom_fields"] == []
    assert product["created_at"]
    assert product["modified_at"] is None
    [price] = product["prices"]
    assert price["amount_type"] == "fixed"
    assert price["price_amount"] == 1250
    assert price["price_currency"] == "usd"
    assert price["product_id"] == product["id"]
    assert price["source"] == "catalog"
    assert price["is_archived"] is False
    assert await get_product(client, tenant, product["id"]) == product


@pytest.mark.parametrize(
    ("interval", "count", "expected_count"), [("month", 3, 3), ("year", None, 1), ("week", 2, 2)]
)
async def test_create_recurring_product(
    client: httpx.AsyncClient,
    tenant: Tenant,
    interval: str,
    count: int | None,
    expected_count: int,
) -> None:
    fields: JSON = {"recurring_interval": interval}
    if count is not None:
        fields["recurring_interval_count"] = count
    product = await create_product(client, tenant, **fields)

    assert product["is_recurring"] is True
    assert product["recurring_interval"] == interval
    assert product["recurring_interval_count"] == expected_count
    fetched = await get_product(client, tenant, product["id"])
    assert (fetched["recurring_interval"], fetched["recurring_interval_count"]) == (
        interval,
        expected_count,
    )


async def test_create_recurring_product_with_trial(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(
        client,
        tenant,
        recurring_interval="month",
        trial_interval="day",
        trial_interval_count=14,
    )
    assert (product["trial_interval"], product["trial_interval_count"]) == ("day", 14)


async def test_create_pay_what_you_want_price(client: httpx.AsyncClient, tenant: Tenant) -> None:
    custom = {
        "amount_type": "custom",
        "price_currency": "eur",
        "minimum_amount": 500,
        "maximum_amount": 10_000,
        "preset_amount": 2000,
    }
    product = await create_product(client, tenant, prices=[custom])

    [price] = product["prices"]
    assert price["amount_type"] == "custom"
    assert price["price_currency"] == "eur"
    assert (price["minimum_amount"], price["maximum_amount"], price["preset_amount"]) == (
        500,
        10_000,
        2000,
    )
    assert "price_amount" not in price


async def test_pay_what_you_want_defaults(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await create_product(client, tenant, prices=[{"amount_type": "custom"}])

    [price] = product["prices"]
    assert price["minimum_amount"] == 50
    assert price["maximum_amount"] is None
    assert price["preset_amount"] is None
    assert price["price_currency"] == "usd"


async def test_free_price_is_a_fixed_price_of_zero(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(client, tenant, prices=[{"amount_type": "free"}])

    [price] = product["prices"]
    assert price["amount_type"] == "fixed"
    assert price["price_amount"] == 0
    assert price["price_currency"] == "usd"


async def test_several_prices_in_different_currencies(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(
        client, tenant, prices=[fixed_price(1000, "usd"), fixed_price(150_000, "jpy")]
    )
    amounts = {p["price_currency"]: p["price_amount"] for p in product["prices"]}
    assert amounts == {"usd": 1000, "jpy": 150_000}


async def test_metadata_round_trip(client: httpx.AsyncClient, tenant: Tenant) -> None:
    metadata = {"plan": "gold", "seats": 3, "ratio": 1.5, "beta": True, "k" * 40: "v" * 500}
    product = await create_product(client, tenant, metadata=metadata)

    assert product["metadata"] == metadata
    assert (await get_product(client, tenant, product["id"]))["metadata"] == metadata


@pytest.mark.parametrize("visibility", ["public", "private", "draft"])
async def test_visibility(client: httpx.AsyncClient, tenant: Tenant, visibility: str) -> None:
    product = await create_product(client, tenant, visibility=visibility)
    assert product["visibility"] == visibility


async def test_organization_id_of_the_token_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(client, tenant, organization_id=str(tenant.organization_id))
    assert product["organization_id"] == str(tenant.organization_id)


async def test_read_only_token_cannot_create(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    reader = await make_tenant(scopes=frozenset({"products:read"}))
    body = {"name": "Widget", "prices": [fixed_price()]}

    response = await client.post("/v1/products/", json=body, headers=reader.headers)

    assert response.status_code == 403
    assert response.json()["error"] == "NotPermitted"
    assert (await list_products(client, reader))["pagination"]["total_count"] == 0


# List


async def test_list_of_a_new_organization_is_empty(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    page = await list_products(client, tenant)
    assert page == {"items": [], "pagination": {"total_count": 0, "max_page": 0}}


async def test_list_pagination(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = {(await create_product(client, tenant, name=f"Item {i}"))["id"] for i in range(5)}

    pages = [await list_products(client, tenant, {"page": n, "limit": 2}) for n in (1, 2, 3, 4)]

    assert [len(page["items"]) for page in pages] == [2, 2, 1, 0]
    for page in pages:
        assert page["pagination"] == {"total_count": 5, "max_page": 3}
    assert set().union(*(ids(page) for page in pages)) == created


async def test_list_default_limit_is_10(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for i in range(11):
        await create_product(client, tenant, name=f"Item {i}")
    page = await list_products(client, tenant)
    assert len(page["items"]) == 10
    assert page["pagination"] == {"total_count": 11, "max_page": 2}


async def test_list_is_scoped_to_the_organization(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    mine, theirs = await make_tenant(), await make_tenant()
    await create_product(client, theirs, name="Not mine")
    own = await create_product(client, mine, name="Mine")

    page = await list_products(client, mine)
    assert ids(page) == {own["id"]}
    other_org = {"organization_id": str(theirs.organization_id)}
    assert (await list_products(client, mine, other_org))["items"] == []


async def test_filter_by_repeated_id(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first, second, _third = [await create_product(client, tenant) for _ in range(3)]

    page = await list_products(client, tenant, [("id", first["id"]), ("id", second["id"])])

    assert ids(page) == {first["id"], second["id"]}
    assert page["pagination"]["total_count"] == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("%", ["100% cotton"]),
        ("_", ["snake_case"]),
        ("0%", ["100% cotton"]),
        ("e_c", ["snake_case"]),
        ("COTTON", ["1000 cotton", "100% cotton"]),
        ("snake", ["snake_case", "snakeXcase"]),
        ("\\", []),
    ],
)
async def test_filter_by_query_treats_wildcards_literally(
    client: httpx.AsyncClient, tenant: Tenant, query: str, expected: list[str]
) -> None:
    for name in ("100% cotton", "1000 cotton", "snake_case", "snakeXcase"):
        await create_product(client, tenant, name=name)

    page = await list_products(client, tenant, {"query": query})

    assert sorted(names(page)) == sorted(expected)


async def test_filter_by_is_archived(client: httpx.AsyncClient, tenant: Tenant) -> None:
    active = await create_product(client, tenant, name="Active")
    archived = await create_product(client, tenant, name="Archived")
    assert (await update_product(client, tenant, archived["id"], is_archived=True)).is_success

    assert ids(await list_products(client, tenant, {"is_archived": "true"})) == {archived["id"]}
    assert ids(await list_products(client, tenant, {"is_archived": "false"})) == {active["id"]}
    assert len((await list_products(client, tenant))["items"]) == 2


async def test_filter_by_is_recurring(client: httpx.AsyncClient, tenant: Tenant) -> None:
    one_time = await create_product(client, tenant)
    recurring = await create_product(client, tenant, recurring_interval="month")

    assert ids(await list_products(client, tenant, {"is_recurring": "true"})) == {recurring["id"]}
    assert ids(await list_products(client, tenant, {"is_recurring": "false"})) == {one_time["id"]}


async def test_filter_by_visibility(client: httpx.AsyncClient, tenant: Tenant) -> None:
    by_visibility = {
        v: (await create_product(client, tenant, visibility=v))["id"]
        for v in ("public", "private", "draft")
    }

    private = await list_products(client, tenant, {"visibility": "private"})
    assert ids(private) == {by_visibility["private"]}
    hidden = await list_products(
        client, tenant, [("visibility", "private"), ("visibility", "draft")]
    )
    assert ids(hidden) == {by_visibility["private"], by_visibility["draft"]}


async def test_filter_by_metadata(client: httpx.AsyncClient, tenant: Tenant) -> None:
    gold = await create_product(client, tenant, metadata={"tier": "gold", "seats": 3})
    silver = await create_product(client, tenant, metadata={"tier": "silver", "seats": 5})
    await create_product(client, tenant, metadata={})

    assert ids(await list_products(client, tenant, {"metadata[tier]": "gold"})) == {gold["id"]}
    either = [("metadata[tier]", "gold"), ("metadata[tier]", "silver")]
    assert ids(await list_products(client, tenant, either)) == {gold["id"], silver["id"]}
    assert ids(await list_products(client, tenant, {"metadata[seats]": "5"})) == {silver["id"]}
    both = {"metadata[tier]": "gold", "metadata[seats]": "5"}
    assert ids(await list_products(client, tenant, both)) == set()
    assert ids(await list_products(client, tenant, {"metadata[other]": "x"})) == set()


async def test_sorting(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create_product(client, tenant, name="Bravo", prices=[fixed_price(300)])
    await create_product(client, tenant, name="Alpha", prices=[fixed_price(200)])
    await create_product(client, tenant, name="Charlie", prices=[fixed_price(100)])

    async def sorted_by(sorting: str) -> list[str]:
        return names(await list_products(client, tenant, {"sorting": sorting}))

    assert await sorted_by("name") == ["Alpha", "Bravo", "Charlie"]
    assert await sorted_by("-name") == ["Charlie", "Bravo", "Alpha"]
    assert await sorted_by("price_amount") == ["Charlie", "Alpha", "Bravo"]
    assert await sorted_by("-price_amount") == ["Bravo", "Alpha", "Charlie"]
    assert await sorted_by("-created_at") == ["Charlie", "Alpha", "Bravo"]
    assert await sorted_by("created_at") == ["Bravo", "Alpha", "Charlie"]
    assert names(await list_products(client, tenant)) == ["Charlie", "Alpha", "Bravo"]


async def test_sorting_by_price_amount_uses_the_custom_minimum(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await create_product(client, tenant, name="Fixed", prices=[fixed_price(700)])
    custom = {"amount_type": "custom", "minimum_amount": 500}
    await create_product(client, tenant, name="Custom", prices=[custom])

    page = await list_products(client, tenant, {"sorting": "price_amount"})
    assert names(page) == ["Custom", "Fixed"]


async def test_several_sorting_criteria(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create_product(client, tenant, name="Same", prices=[fixed_price(200)])
    await create_product(client, tenant, name="Same", prices=[fixed_price(100)])
    await create_product(client, tenant, name="Other", prices=[fixed_price(300)])

    page = await list_products(client, tenant, [("sorting", "-name"), ("sorting", "price_amount")])
    amounts = [(p["name"], p["prices"][0]["price_amount"]) for p in page["items"]]
    assert amounts == [("Same", 100), ("Same", 200), ("Other", 300)]


# Get


async def test_get_unknown_product_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(f"/v1/products/{uuid.uuid4()}", headers=tenant.headers)
    assert response.status_code == 404
    assert response.json()["error"] == "ResourceNotFound"


async def test_product_of_another_organization_is_404(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    owner, stranger = await make_tenant(), await make_tenant()
    product = await create_product(client, owner)

    path = f"/v1/products/{product['id']}"
    assert (await client.get(path, headers=stranger.headers)).status_code == 404
    patched = await client.patch(path, json={"name": "Stolen"}, headers=stranger.headers)
    assert patched.status_code == 404
    assert (await get_product(client, owner, product["id"]))["name"] == "Widget"


async def test_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/products/")
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"


# Update


async def test_update_name_description_and_metadata(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(
        client, tenant, description="Old", metadata={"a": "1"}, visibility="draft"
    )

    response = await update_product(
        client, tenant, product["id"], name="Renamed", description="New", metadata={"b": 2}
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["name"], updated["description"], updated["metadata"]) == (
        "Renamed",
        "New",
        {"b": 2},
    )
    assert updated["visibility"] == "draft"
    assert updated["prices"] == product["prices"]
    assert updated["modified_at"] is not None
    assert updated["created_at"] == product["created_at"]
    assert await get_product(client, tenant, product["id"]) == updated


async def test_update_can_clear_the_description(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await create_product(client, tenant, description="Old")
    response = await update_product(client, tenant, product["id"], description=None)
    assert response.json()["description"] is None


async def test_update_without_fields_changes_nothing(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(client, tenant, description="Keep", metadata={"a": "1"})
    response = await update_product(client, tenant, product["id"])
    assert response.status_code == 200
    unchanged = response.json()
    for field in ("name", "description", "metadata", "visibility", "prices", "is_archived"):
        assert unchanged[field] == product[field], field


async def test_archive_and_unarchive(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await create_product(client, tenant)

    archived = await update_product(client, tenant, product["id"], is_archived=True)
    assert archived.json()["is_archived"] is True
    assert (await get_product(client, tenant, product["id"]))["is_archived"] is True

    restored = await update_product(client, tenant, product["id"], is_archived=False)
    assert restored.json()["is_archived"] is False


async def test_update_prices_keeps_adds_and_drops(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(
        client, tenant, prices=[fixed_price(1000, "usd"), fixed_price(900, "eur")]
    )
    usd = next(p for p in product["prices"] if p["price_currency"] == "usd")

    response = await update_product(
        client, tenant, product["id"], prices=[{"id": usd["id"]}, fixed_price(800, "gbp")]
    )

    assert response.status_code == 200, response.text
    prices = {p["price_currency"]: p for p in response.json()["prices"]}
    assert set(prices) == {"usd", "gbp"}
    assert prices["usd"] == usd
    assert prices["gbp"]["price_amount"] == 800
    assert prices["gbp"]["product_id"] == product["id"]
    assert prices["gbp"]["id"] not in {p["id"] for p in product["prices"]}
    assert (await get_product(client, tenant, product["id"]))["prices"] == response.json()["prices"]


async def test_update_prices_can_replace_a_price_in_the_same_currency(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(client, tenant, prices=[fixed_price(1000)])

    response = await update_product(client, tenant, product["id"], prices=[fixed_price(1500)])

    [price] = response.json()["prices"]
    assert price["price_amount"] == 1500
    assert price["id"] != product["prices"][0]["id"]


async def test_dropped_price_cannot_be_kept_again(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(client, tenant, prices=[fixed_price(1000)])
    old_id = product["prices"][0]["id"]
    await update_product(client, tenant, product["id"], prices=[fixed_price(1500)])

    response = await update_product(client, tenant, product["id"], prices=[{"id": old_id}])

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "prices", 0, "id"]


async def test_one_time_product_cannot_become_recurring(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(client, tenant)

    response = await update_product(client, tenant, product["id"], recurring_interval="month")

    assert response.status_code == 422
    assert ["body", "recurring_interval"] in [e["loc"] for e in response.json()["detail"]]
    assert (await get_product(client, tenant, product["id"]))["is_recurring"] is False


async def test_recurring_product_accepts_its_own_interval(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(
        client, tenant, recurring_interval="month", recurring_interval_count=3
    )

    response = await update_product(
        client, tenant, product["id"], recurring_interval="month", recurring_interval_count=3
    )

    assert response.status_code == 200, response.text
    assert response.json()["recurring_interval"] == "month"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recurring_interval": "year"}, "recurring_interval"),
        ({"recurring_interval_count": 2}, "recurring_interval_count"),
    ],
)
async def test_recurring_interval_cannot_be_changed(
    client: httpx.AsyncClient, tenant: Tenant, change: JSON, field: str
) -> None:
    product = await create_product(client, tenant, recurring_interval="month")

    response = await update_product(client, tenant, product["id"], **change)

    assert response.status_code == 422, response.text
    assert ["body", field] in [e["loc"] for e in response.json()["detail"]]
    fetched = await get_product(client, tenant, product["id"])
    assert (fetched["recurring_interval"], fetched["recurring_interval_count"]) == ("month", 1)
