"""Bad input to POST /v1/discounts/: a 422 naming the field, never a 500, nothing written."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from kassa.kit.money import MAX_AMOUNT
from tests.conftest import Tenant
from tests.discount.helpers import (
    JSON,
    Loc,
    assert_names_field,
    create_discount,
    fixed,
    list_discounts,
    percentage,
)


def without(body: JSON, *fields: str) -> JSON:
    return {key: value for key, value in body.items() if key not in fields}


BAD_BODIES: list[tuple[str, JSON, Loc]] = [
    ("no name", without(percentage(), "name"), ("body", "name")),
    ("empty name", percentage(name=""), ("body", "name")),
    ("blank name", percentage(name="   "), ("body", "name")),
    ("long name", percentage(name="x" * 257), ("body", "name")),
    ("NUL in name", percentage(name="a\x00b"), ("body", "name")),
    ("unknown type", percentage(type="bogo"), ("body", "type")),
    ("null type", percentage(type=None), ("body", "type")),
    ("no basis points", without(percentage(), "basis_points"), ("body", "basis_points")),
    ("zero basis points", percentage(0), ("body", "basis_points")),
    ("over 100%", percentage(10_001), ("body", "basis_points")),
    ("fractional basis points", percentage(10.5), ("body", "basis_points")),
    ("string basis points", percentage("1000"), ("body", "basis_points")),
    ("no amount", without(fixed(), "amount"), ("body", "amount")),
    ("null amount", fixed(amount=None), ("body", "amount")),
    ("negative amount", fixed(-1), ("body", "amount")),
    ("huge amount", fixed(MAX_AMOUNT + 1), ("body", "amount")),
    ("unknown currency", fixed(currency="xyz"), ("body", "currency")),
    ("empty amounts", {**without(fixed(), "amount"), "amounts": {}}, ("body", "amounts")),
    ("bad amounts currency", {**fixed(), "amounts": {"zzz": 1}}, ("body", "amounts")),
    (
        "negative amounts",
        {**without(fixed(), "amount"), "amounts": {"usd": -5}},
        ("body", "amounts"),
    ),
    (
        "currency twice in amounts",
        {**without(fixed(), "amount"), "amounts": {"usd": 5, "USD": 6}},
        ("body", "amounts"),
    ),
    ("amount disagrees", {**fixed(500), "amounts": {"usd": 400}}, ("body", "amount")),
    (
        "currency not in amounts",
        {**without(fixed(), "amount"), "currency": "eur", "amounts": {"usd": 400}},
        ("body", "currency"),
    ),
    ("no duration", without(percentage(), "duration"), ("body", "duration")),
    ("unknown duration", percentage(duration="weekly"), ("body", "duration")),
    ("repeating without months", percentage(duration="repeating"), ("body", "duration_in_months")),
    ("once with months", percentage(duration_in_months=3), ("body", "duration_in_months")),
    (
        "zero months",
        percentage(duration="repeating", duration_in_months=0),
        ("body", "duration_in_months"),
    ),
    (
        "too many months",
        percentage(duration="repeating", duration_in_months=1000),
        ("body", "duration_in_months"),
    ),
    ("short code", percentage(code="ab"), ("body", "code")),
    ("long code", percentage(code="a" * 257), ("body", "code")),
    ("code with a dash", percentage(code="SUM-MER"), ("body", "code")),
    ("code with a space", percentage(code="SUM MER"), ("body", "code")),
    ("code not a string", percentage(code=12345), ("body", "code")),
    (
        "ends before it starts",
        percentage(starts_at="2030-02-01T00:00:00Z", ends_at="2030-01-01T00:00:00Z"),
        ("body", "ends_at"),
    ),
    (
        "ends when it starts",
        percentage(starts_at="2030-01-01T00:00:00Z", ends_at="2030-01-01T01:00:00+01:00"),
        ("body", "ends_at"),
    ),
    ("not a timestamp", percentage(starts_at="next tuesday"), ("body", "starts_at")),
    (
        "timestamp out of range",
        percentage(ends_at="0001-01-01T00:00:00+01:00"),
        ("body", "ends_at"),
    ),
    (
        "timestamp past year 9999 in UTC",
        percentage(ends_at="9999-12-31T23:00:00-05:00"),
        ("body", "ends_at"),
    ),
    ("zero max redemptions", percentage(max_redemptions=0), ("body", "max_redemptions")),
    ("huge max redemptions", percentage(max_redemptions=2**31), ("body", "max_redemptions")),
    (
        "zero per customer",
        percentage(max_redemptions_per_customer=0),
        ("body", "max_redemptions_per_customer"),
    ),
    ("products not a list", percentage(products="all"), ("body", "products")),
    ("product not a uuid", percentage(products=["abc"]), ("body", "products", 0)),
    ("unknown product", percentage(products=[str(uuid.uuid4())]), ("body", "products", 0)),
    ("nested metadata", percentage(metadata={"k": {"a": 1}}), ("body", "metadata")),
    ("long metadata key", percentage(metadata={"k" * 41: 1}), ("body", "metadata")),
    ("bad organization id", percentage(organization_id="nope"), ("body", "organization_id")),
]


@pytest.mark.parametrize(
    ("body", "loc"), [(body, loc) for _, body, loc in BAD_BODIES], ids=[c[0] for c in BAD_BODIES]
)
async def test_bad_bodies_name_the_field_and_write_nothing(
    client: httpx.AsyncClient, tenant: Tenant, body: JSON, loc: Loc
) -> None:
    response = await client.post("/v1/discounts/", json=body, headers=tenant.headers)

    assert_names_field(response, loc)
    assert (await list_discounts(client, tenant))["items"] == []


async def test_a_very_long_product_list(client: httpx.AsyncClient, tenant: Tenant) -> None:
    """More ids than PostgreSQL takes bind parameters: still a 422, not a database error."""
    products = [str(uuid.uuid4()) for _ in range(40_000)]
    response = await client.post(
        "/v1/discounts/", json=percentage(products=products), headers=tenant.headers
    )

    assert_names_field(response, ("body", "products", 0))


@pytest.mark.parametrize("body", [[], "discount", 42, None])
async def test_a_body_that_is_not_an_object(
    client: httpx.AsyncClient, tenant: Tenant, body: Any
) -> None:
    response = await client.post("/v1/discounts/", json=body, headers=tenant.headers)

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"


async def test_malformed_json(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        "/v1/discounts/",
        content=b'{"name": ',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("path_id", ["not-a-uuid", "1"])
async def test_bad_ids_in_the_path(client: httpx.AsyncClient, tenant: Tenant, path_id: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        kwargs: JSON = {"json": {}} if method == "PATCH" else {}
        response = await client.request(
            method, f"/v1/discounts/{path_id}", headers=tenant.headers, **kwargs
        )
        assert_names_field(response, ("path", "id"))


@pytest.mark.parametrize(
    "params",
    [{"page": 0}, {"limit": 101}, {"organization_id": "x"}, {"sorting": "amount"}],
)
async def test_bad_list_parameters(client: httpx.AsyncClient, tenant: Tenant, params: JSON) -> None:
    response = await client.get("/v1/discounts/", params=params, headers=tenant.headers)

    assert_names_field(response, ("query", next(iter(params))))


async def test_unicode_letters_make_a_valid_code(client: httpx.AsyncClient, tenant: Tenant) -> None:
    discount = await create_discount(client, tenant, percentage(code="  Été2030 "))

    assert discount["code"] == "Été2030"
    clash = await client.post(
        "/v1/discounts/", json=percentage(code="ÉTÉ2030"), headers=tenant.headers
    )
    assert_names_field(clash, ("body", "code"))


async def test_an_empty_code_means_no_code(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first = await create_discount(client, tenant, percentage(code=""))
    second = await create_discount(client, tenant, percentage(code="  "))

    assert first["code"] is None and second["code"] is None


async def test_the_type_follows_from_the_fields_when_omitted(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    by_points = await create_discount(client, tenant, without(percentage(), "type"))
    by_amount = await create_discount(client, tenant, without(fixed(), "type"))

    assert (by_points["type"], by_amount["type"]) == ("percentage", "fixed")
