"""Bad input to the product endpoints: a 4xx naming the field, never a 500, nothing written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from kassa.kit.money import MAX_AMOUNT
from tests.conftest import Tenant, TenantFactory

JSON = dict[str, Any]
Loc = tuple[str | int, ...]


def fixed_price(amount: Any = 1000, currency: str = "usd") -> JSON:
    return {"amount_type": "fixed", "price_amount": amount, "price_currency": currency}


def custom_price(**amounts: int) -> JSON:
    return {"amount_type": "custom", "price_currency": "usd", **amounts}


def product_body(**fields: Any) -> JSON:
    return {"name": "Widget", "prices": [fixed_price()], **fields}


def without(body: JSON, field: str) -> JSON:
    return {key: value for key, value in body.items() if key != field}


def locs(response: httpx.Response) -> list[Loc]:
    return [tuple(error["loc"]) for error in response.json()["detail"]]


def assert_names_field(response: httpx.Response, expected: Loc) -> None:
    """A 422 whose ``detail`` has an error located at ``expected`` (or below it)."""
    assert response.status_code == 422, response.text
    found = locs(response)
    assert any(loc[: len(expected)] == expected for loc in found), found
    for error in response.json()["detail"]:
        assert isinstance(error["msg"], str) and error["msg"]
        assert isinstance(error["type"], str) and error["type"]


async def product_count(client: httpx.AsyncClient, tenant: Tenant) -> int:
    response = await client.get("/v1/products/", headers=tenant.headers)
    assert response.status_code == 200
    count: int = response.json()["pagination"]["total_count"]
    return count


async def create_product(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> JSON:
    response = await client.post(
        "/v1/products/", json=product_body(**fields), headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    product: JSON = response.json()
    return product


def _metadata(size: int) -> JSON:
    return {f"key{i}": "value" for i in range(size)}


_CURRENCIES_21 = (
    "usd eur gbp jpy chf cad aud nzd sek nok dkk pln czk huf ron brl mxn inr sgd hkd zar".split()
)

PRICES: Loc = ("body", "prices")
FIRST_PRICE: Loc = ("body", "prices", 0)
FIXED_AMOUNT: Loc = ("body", "prices", 0, "fixed", "price_amount")
CUSTOM: Loc = ("body", "prices", 0, "custom")

REFUSED_BODIES: dict[str, tuple[JSON, Loc]] = {
    "name missing": (without(product_body(), "name"), ("body", "name")),
    "name too short": (product_body(name="ab"), ("body", "name")),
    "name blank": (product_body(name="   "), ("body", "name")),
    "name too long": (product_body(name="x" * 65), ("body", "name")),
    "name not a string": (product_body(name=123), ("body", "name")),
    "prices missing": (without(product_body(), "prices"), PRICES),
    "prices empty": (product_body(prices=[]), PRICES),
    "prices null": (product_body(prices=None), PRICES),
    "21 prices": (product_body(prices=[fixed_price(100, c) for c in _CURRENCIES_21]), PRICES),
    "negative amount": (product_body(prices=[fixed_price(-1)]), FIXED_AMOUNT),
    "float amount": (product_body(prices=[fixed_price(10.5)]), FIXED_AMOUNT),
    "integral float amount": (product_body(prices=[fixed_price(10.0)]), FIXED_AMOUNT),
    "string amount": (product_body(prices=[fixed_price("1000")]), FIXED_AMOUNT),
    "boolean amount": (product_body(prices=[fixed_price(True)]), FIXED_AMOUNT),
    "null amount": (product_body(prices=[fixed_price(None)]), FIXED_AMOUNT),
    "amount above maximum": (product_body(prices=[fixed_price(MAX_AMOUNT + 1)]), FIXED_AMOUNT),
    "giant amount": (product_body(prices=[fixed_price(10**30)]), FIXED_AMOUNT),
    "amount missing": (
        product_body(prices=[{"amount_type": "fixed", "price_currency": "usd"}]),
        FIXED_AMOUNT,
    ),
    "unknown currency": (
        product_body(prices=[fixed_price(currency="xyz")]),
        ("body", "prices", 0, "fixed", "price_currency"),
    ),
    "empty currency": (
        product_body(prices=[fixed_price(currency="")]),
        ("body", "prices", 0, "fixed", "price_currency"),
    ),
    "custom maximum below minimum": (
        product_body(prices=[custom_price(minimum_amount=1000, maximum_amount=500)]),
        (*CUSTOM, "maximum_amount"),
    ),
    "custom preset below minimum": (
        product_body(prices=[custom_price(minimum_amount=1000, preset_amount=500)]),
        (*CUSTOM, "preset_amount"),
    ),
    "custom preset above maximum": (
        product_body(
            prices=[custom_price(minimum_amount=100, maximum_amount=500, preset_amount=600)]
        ),
        (*CUSTOM, "preset_amount"),
    ),
    "custom negative minimum": (
        product_body(prices=[custom_price(minimum_amount=-1)]),
        ("body", "prices", 0, "custom", "minimum_amount"),
    ),
    "custom zero maximum": (
        product_body(prices=[custom_price(minimum_amount=0, maximum_amount=0)]),
        ("body", "prices", 0, "custom", "maximum_amount"),
    ),
    "two prices in one currency": (
        product_body(prices=[fixed_price(100, "usd"), fixed_price(200, "usd")]),
        ("body", "prices", 1),
    ),
    "two prices in one currency, different case": (
        product_body(prices=[fixed_price(100, "usd"), fixed_price(200, "USD")]),
        ("body", "prices", 1),
    ),
    "metered_unit amount type": (
        product_body(prices=[{"amount_type": "metered_unit", "price_currency": "usd"}]),
        FIRST_PRICE,
    ),
    "seat_based amount type": (
        product_body(prices=[{"amount_type": "seat_based", "price_currency": "usd"}]),
        FIRST_PRICE,
    ),
    "no amount type": (product_body(prices=[{"price_amount": 100}]), FIRST_PRICE),
    "price not an object": (product_body(prices=[1000]), FIRST_PRICE),
    "51 metadata keys": (product_body(metadata=_metadata(51)), ("body", "metadata")),
    "metadata key of 41 characters": (
        product_body(metadata={"k" * 41: "v"}),
        ("body", "metadata"),
    ),
    "empty metadata key": (product_body(metadata={"": "v"}), ("body", "metadata")),
    "metadata value of 501 characters": (
        product_body(metadata={"k": "v" * 501}),
        ("body", "metadata", "k"),
    ),
    "empty metadata value": (product_body(metadata={"k": ""}), ("body", "metadata", "k")),
    "nested metadata value": (
        product_body(metadata={"k": {"nested": "v"}}),
        ("body", "metadata", "k"),
    ),
    "list metadata value": (product_body(metadata={"k": ["v"]}), ("body", "metadata", "k")),
    "null metadata value": (product_body(metadata={"k": None}), ("body", "metadata", "k")),
    "metadata not an object": (product_body(metadata=["k"]), ("body", "metadata")),
    "unknown visibility": (product_body(visibility="hidden"), ("body", "visibility")),
    "unknown recurring interval": (
        product_body(recurring_interval="fortnight"),
        ("body", "recurring_interval"),
    ),
    "recurring interval count of 0": (
        product_body(recurring_interval="month", recurring_interval_count=0),
        ("body", "recurring_interval_count"),
    ),
    "recurring interval count of 1000": (
        product_body(recurring_interval="month", recurring_interval_count=1000),
        ("body", "recurring_interval_count"),
    ),
    "description too long": (product_body(description="d" * 10_001), ("body", "description")),
    "unknown media": (product_body(medias=[str(uuid.uuid4())]), ("body", "medias")),
    "unknown custom field": (
        product_body(attached_custom_fields=[{"custom_field_id": str(uuid.uuid4())}]),
        ("body", "attached_custom_fields"),
    ),
    "invalid organization_id": (product_body(organization_id="nope"), ("body", "organization_id")),
    # Rules checked across fields (model validators) still name the field.
    "recurring_interval_count without recurring_interval": (
        product_body(recurring_interval_count=2),
        ("body", "recurring_interval_count"),
    ),
    "trial on a one-time product": (
        product_body(trial_interval="day", trial_interval_count=7),
        ("body", "trial_interval"),
    ),
    "trial_interval_count on a one-time product": (
        product_body(trial_interval_count=7),
        ("body", "trial_interval"),
    ),
    "trial_interval without its count": (
        product_body(recurring_interval="month", trial_interval="day"),
        ("body", "trial_interval_count"),
    ),
    "trial_interval_count without its interval": (
        product_body(recurring_interval="month", trial_interval_count=7),
        ("body", "trial_interval"),
    ),
    "NUL character in name": (product_body(name="Wid\x00get"), ("body", "name")),
    "NUL character in a metadata value": (
        product_body(metadata={"note": "a\x00b"}),
        ("body", "metadata", "note"),
    ),
}


@pytest.mark.parametrize(("body", "loc"), REFUSED_BODIES.values(), ids=REFUSED_BODIES.keys())
async def test_create_refused(
    client: httpx.AsyncClient, tenant: Tenant, body: JSON, loc: Loc
) -> None:
    response = await client.post("/v1/products/", json=body, headers=tenant.headers)

    assert_names_field(response, loc)
    assert await product_count(client, tenant) == 0


async def test_currency_is_trimmed_and_lowercased(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(client, tenant, prices=[fixed_price(currency="USD ")])
    assert product["prices"][0]["price_currency"] == "usd"


async def test_largest_amount_is_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await create_product(client, tenant, prices=[fixed_price(MAX_AMOUNT)])
    assert product["prices"][0]["price_amount"] == MAX_AMOUNT


async def test_metadata_at_its_limits_is_accepted(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    metadata = {**_metadata(49), "k" * 40: "v" * 500}
    product = await create_product(client, tenant, metadata=metadata)
    assert product["metadata"] == metadata


async def test_unknown_fields_are_ignored(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await create_product(client, tenant, color="blue")
    assert "color" not in product


async def test_organization_id_of_another_organization(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    body = product_body(organization_id=str(other.organization_id))

    response = await client.post("/v1/products/", json=body, headers=tenant.headers)

    assert_names_field(response, ("body", "organization_id"))
    assert await product_count(client, tenant) == 0
    assert await product_count(client, other) == 0


async def test_malformed_json_body(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/products/",
        content=b'{"name": "Widget", "prices": [',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )

    assert_names_field(response, ("body",))
    assert await product_count(client, tenant) == 0


@pytest.mark.parametrize("body", [[product_body()], "Widget", 42, None])
async def test_body_that_is_not_an_object(
    client: httpx.AsyncClient, tenant: Tenant, body: Any
) -> None:
    response = await client.post("/v1/products/", json=body, headers=tenant.headers)

    assert_names_field(response, ("body",))
    assert await product_count(client, tenant) == 0


async def test_empty_body(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post("/v1/products/", headers=tenant.headers)

    assert_names_field(response, ("body",))


@pytest.mark.parametrize("method", ["GET", "PATCH"])
@pytest.mark.parametrize("product_id", ["not-a-uuid", "123", "00000000-0000-0000-0000"])
async def test_invalid_uuid_in_path(
    client: httpx.AsyncClient, tenant: Tenant, method: str, product_id: str
) -> None:
    response = await client.request(
        method, f"/v1/products/{product_id}", json={"name": "Renamed"}, headers=tenant.headers
    )

    assert_names_field(response, ("path", "id"))


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, ("query", "limit")),
        ({"limit": 101}, ("query", "limit")),
        ({"limit": -1}, ("query", "limit")),
        ({"limit": "ten"}, ("query", "limit")),
        ({"page": 0}, ("query", "page")),
        ({"page": -1}, ("query", "page")),
        ({"sorting": "price"}, ("query", "sorting")),
        ({"sorting": "--name"}, ("query", "sorting")),
        ({"id": "not-a-uuid"}, ("query", "id")),
        ({"is_archived": "maybe"}, ("query", "is_archived")),
        ({"visibility": "hidden"}, ("query", "visibility")),
        ({"organization_id": "nope"}, ("query", "organization_id")),
        ({"metadata": "x"}, ("query", "metadata")),
        ({"metadata[a][b]": "x"}, ("query", "metadata[a][b]")),
    ],
)
async def test_bad_list_parameters(
    client: httpx.AsyncClient, tenant: Tenant, params: JSON, loc: Loc
) -> None:
    response = await client.get("/v1/products/", params=params, headers=tenant.headers)

    assert_names_field(response, loc)


@pytest.mark.parametrize("limit", [1, 100])
async def test_limit_bounds_are_accepted(
    client: httpx.AsyncClient, tenant: Tenant, limit: int
) -> None:
    response = await client.get("/v1/products/", params={"limit": limit}, headers=tenant.headers)
    assert response.status_code == 200


# Updates: refused, and the product is left exactly as it was.

REFUSED_UPDATES: dict[str, tuple[JSON, Loc]] = {
    "name too short": ({"name": "ab"}, ("body", "name")),
    "name too long": ({"name": "x" * 65}, ("body", "name")),
    "empty prices": ({"prices": []}, ("body", "prices")),
    "negative amount": ({"prices": [fixed_price(-5)]}, ("body", "prices", 0)),
    "float amount": ({"prices": [fixed_price(10.0)]}, ("body", "prices", 0)),
    "unknown price id": ({"prices": [{"id": str(uuid.uuid4())}]}, ("body", "prices", 0, "id")),
    "new price in the currency of a kept one": (
        {"prices": ["KEPT", fixed_price(500, "usd")]},
        ("body", "prices", 1),
    ),
    "metadata with 51 keys": ({"metadata": _metadata(51)}, ("body", "metadata")),
    "is_archived not a boolean": ({"is_archived": "perhaps"}, ("body", "is_archived")),
    "one-time product becoming recurring by count": (
        {"recurring_interval_count": 2},
        ("body", "recurring_interval"),
    ),
    "trial on a one-time product": (
        {"trial_interval": "day", "trial_interval_count": 7},
        ("body", "trial_interval"),
    ),
}


@pytest.mark.parametrize(("body", "loc"), REFUSED_UPDATES.values(), ids=REFUSED_UPDATES.keys())
async def test_update_refused(
    client: httpx.AsyncClient, tenant: Tenant, body: JSON, loc: Loc
) -> None:
    product = await create_product(
        client, tenant, prices=[fixed_price(1000, "usd"), fixed_price(900, "eur")]
    )
    kept = {"id": product["prices"][0]["id"]}
    if "prices" in body:
        body = {"prices": [kept if p == "KEPT" else p for p in body["prices"]]}
    path = f"/v1/products/{product['id']}"

    response = await client.patch(path, json=body, headers=tenant.headers)

    assert_names_field(response, loc)
    assert (await client.get(path, headers=tenant.headers)).json() == product


async def test_price_of_another_product_cannot_be_kept(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(client, tenant)
    other = await create_product(client, tenant, name="Other")
    foreign = {"id": other["prices"][0]["id"]}
    path = f"/v1/products/{product['id']}"

    response = await client.patch(path, json={"prices": [foreign]}, headers=tenant.headers)

    assert_names_field(response, ("body", "prices", 0, "id"))
    assert (await client.get(path, headers=tenant.headers)).json() == product
    other_path = f"/v1/products/{other['id']}"
    assert (await client.get(other_path, headers=tenant.headers)).json() == other


# Input outside what JSON and PostgreSQL can carry: still a 4xx, never a 500.

# One case per code path: each 500 costs seconds of traceback rendering in the test log.
NON_STANDARD_NUMBERS = {
    "NaN metadata (reaches PostgreSQL)": b'"metadata": {"k": NaN}',
    "NaN price_amount (echoed in the 422)": (
        b'"prices": [{"amount_type": "fixed", "price_amount": NaN}]'
    ),
}


@pytest.mark.parametrize("fragment", NON_STANDARD_NUMBERS.values(), ids=NON_STANDARD_NUMBERS.keys())
async def test_non_standard_json_numbers(
    client: httpx.AsyncClient, tenant: Tenant, fragment: bytes
) -> None:
    prices = b'"prices": [{"amount_type": "free"}]'
    fields = fragment if fragment.startswith(b'"prices"') else prices + b", " + fragment
    response = await client.post(
        "/v1/products/",
        content=b'{"name": "Widget", ' + fields + b"}",
        headers={**tenant.headers, "Content-Type": "application/json"},
    )

    assert 400 <= response.status_code < 500, response.text
    assert await product_count(client, tenant) == 0


async def test_lone_surrogate_in_name(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/products/",
        content=b'{"name": "Wid\\ud800get", "prices": [{"amount_type": "free"}]}',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )

    assert_names_field(response, ("body", "name"))
    assert await product_count(client, tenant) == 0


async def test_integer_too_long_to_parse(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = b'{"name": "Widget", "prices": [{"amount_type": "free"}], "metadata": {"k": %s}}'
    response = await client.post(
        "/v1/products/",
        content=body % (b"9" * 5000),
        headers={**tenant.headers, "Content-Type": "application/json"},
    )

    assert 400 <= response.status_code < 500, response.text
    assert await product_count(client, tenant) == 0


async def test_huge_page_number(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get("/v1/products/", params={"page": 10**18}, headers=tenant.headers)

    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json()["items"] == []


@pytest.mark.parametrize(
    "params", [{"query": "a\x00b"}, {"metadata[k]": "a\x00b"}], ids=["query", "metadata"]
)
async def test_nul_character_in_query_parameters(
    client: httpx.AsyncClient, tenant: Tenant, params: JSON
) -> None:
    response = await client.get("/v1/products/", params=params, headers=tenant.headers)

    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert response.json()["items"] == []
