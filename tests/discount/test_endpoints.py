"""The /v1/discounts/ API: shapes per the contract, filters, sorting, tenancy, soft delete."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.auth.scopes import Scope
from kassa.models import WebhookEvent
from tests.conftest import Tenant, TenantFactory
from tests.contract import assert_conforms, extra_fields, properties
from tests.discount.helpers import (
    JSON,
    assert_names_field,
    create_discount,
    create_product,
    fixed,
    get_discount,
    list_discounts,
    percentage,
    update_discount,
)
from tests.support.receiver import running_receiver


def names(page: JSON) -> list[str]:
    return [item["name"] for item in page["items"]]


def contract_variant(discount: JSON) -> str:
    """The contract's own schema for this discount. Validating a repeating discount against the
    ``Discount`` oneOf cannot pass: the contract's once/forever variants do not forbid
    ``duration_in_months``, so a repeating discount matches two branches."""
    kind = "Fixed" if discount["type"] == "fixed" else "Percentage"
    duration = "RepeatDuration" if discount["duration"] == "repeating" else "OnceForeverDuration"
    return f"Discount{kind}{duration}"


def assert_contract_shape(discount: JSON) -> None:
    variant = contract_variant(discount)
    assert_conforms(variant, discount)
    if discount["duration"] != "repeating":
        assert_conforms("Discount", discount)
    assert not extra_fields(variant, discount)
    for product in discount["products"]:
        assert set(product) == properties("DiscountProduct")


# Create and get


async def test_create_percentage_discount(client: httpx.AsyncClient, tenant: Tenant) -> None:
    discount = await create_discount(
        client, tenant, percentage(2550, code="Summer25", metadata={"campaign": "summer"})
    )

    uuid.UUID(discount["id"])
    assert discount["type"] == "percentage"
    assert discount["basis_points"] == 2550
    assert discount["duration"] == "once"
    assert "duration_in_months" not in discount
    assert "amount" not in discount
    assert discount["code"] == "Summer25"
    assert discount["name"] == "Ten percent"
    assert discount["metadata"] == {"campaign": "summer"}
    assert discount["starts_at"] is None
    assert discount["ends_at"] is None
    assert discount["max_redemptions"] is None
    assert discount["max_redemptions_per_customer"] is None
    assert discount["redemptions_count"] == 0
    assert discount["organization_id"] == str(tenant.organization_id)
    assert discount["products"] == []
    assert discount["created_at"]
    assert discount["modified_at"] is None
    assert_contract_shape(discount)
    assert await get_discount(client, tenant, discount["id"]) == discount


async def test_create_fixed_discount_from_amount_and_currency(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    discount = await create_discount(client, tenant, fixed(750, "EUR", duration="forever"))

    assert (discount["type"], discount["duration"]) == ("fixed", "forever")
    assert (discount["amount"], discount["currency"]) == (750, "eur")
    assert discount["amounts"] == {"eur": 750}
    assert "basis_points" not in discount
    assert_contract_shape(discount)


async def test_fixed_currency_defaults_to_usd(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"name": "Plain", "amount": 300, "duration": "once"}  # no type, no currency
    discount = await create_discount(client, tenant, body)

    assert (discount["type"], discount["amount"], discount["currency"]) == ("fixed", 300, "usd")


async def test_create_fixed_discount_in_several_currencies(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {"name": "Multi", "type": "fixed", "duration": "once", "amounts": {"eur": 900}}
    body["amounts"] = {"EUR": 900, "usd": 1000, "jpy": 150}
    discount = await create_discount(client, tenant, body)

    assert discount["amounts"] == {"eur": 900, "usd": 1000, "jpy": 150}
    # Without a currency, the deprecated pair shows USD when the discount has one.
    assert (discount["amount"], discount["currency"]) == (1000, "usd")
    assert_contract_shape(discount)

    named = await create_discount(
        client, tenant, {**body, "name": "Named", "currency": "jpy", "amount": 150}
    )
    assert (named["amount"], named["currency"]) == (150, "jpy")


async def test_create_repeating_discounts(client: httpx.AsyncClient, tenant: Tenant) -> None:
    by_percent = await create_discount(
        client, tenant, percentage(duration="repeating", duration_in_months=12)
    )
    by_amount = await create_discount(
        client, tenant, fixed(duration="repeating", duration_in_months=3)
    )

    assert (by_percent["duration"], by_percent["duration_in_months"]) == ("repeating", 12)
    assert (by_amount["duration"], by_amount["duration_in_months"]) == ("repeating", 3)
    assert_contract_shape(by_percent)
    assert_contract_shape(by_amount)


async def test_limits_and_period_are_served(client: httpx.AsyncClient, tenant: Tenant) -> None:
    starts = datetime(2030, 1, 1, 9, 30, tzinfo=UTC)
    discount = await create_discount(
        client,
        tenant,
        percentage(
            starts_at="2030-01-01T10:30:00+01:00",
            ends_at=(starts + timedelta(days=30)).isoformat(),
            max_redemptions=100,
            max_redemptions_per_customer=2,
        ),
    )

    assert datetime.fromisoformat(discount["starts_at"]) == starts
    assert datetime.fromisoformat(discount["ends_at"]) == starts + timedelta(days=30)
    assert (discount["max_redemptions"], discount["max_redemptions_per_customer"]) == (100, 2)
    assert_contract_shape(discount)


async def test_naive_timestamps_are_taken_as_utc(client: httpx.AsyncClient, tenant: Tenant) -> None:
    discount = await create_discount(client, tenant, percentage(ends_at="2031-06-01T12:00:00"))

    assert datetime.fromisoformat(discount["ends_at"]) == datetime(2031, 6, 1, 12, tzinfo=UTC)


async def test_product_restrictions_are_served_as_products(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    first = await create_product(client, tenant, "First")
    second = await create_product(client, tenant, "Second")
    discount = await create_discount(
        client, tenant, percentage(products=[second["id"], first["id"], second["id"]])
    )

    assert [p["id"] for p in discount["products"]] == [first["id"], second["id"]]
    served = discount["products"][0]
    assert served["name"] == "First"
    assert served["organization_id"] == str(tenant.organization_id)
    assert "prices" not in served  # the contract's DiscountProduct has none
    assert_contract_shape(discount)
    assert await get_discount(client, tenant, discount["id"]) == discount


# Codes


async def test_codes_are_unique_case_insensitively(
    client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
) -> None:
    await create_discount(client, tenant, percentage(code="SUMMER"))

    clash = await client.post("/v1/discounts/", json=fixed(code="summer"), headers=tenant.headers)
    assert_names_field(clash, ("body", "code"))
    assert clash.json()["detail"][0]["input"] == "summer"
    # Another organization may use the same code.
    other = await make_tenant()
    await create_discount(client, other, percentage(code="summer"))


async def test_a_deleted_discount_frees_its_code(client: httpx.AsyncClient, tenant: Tenant) -> None:
    first = await create_discount(client, tenant, percentage(code="WINTER"))
    deleted = await client.delete(f"/v1/discounts/{first['id']}", headers=tenant.headers)
    assert deleted.status_code == 204

    second = await create_discount(client, tenant, percentage(code="winter"))
    assert second["code"] == "winter"


async def test_update_code(client: httpx.AsyncClient, tenant: Tenant) -> None:
    taken = await create_discount(client, tenant, percentage(code="TAKEN"))
    discount = await create_discount(client, tenant, percentage(code="MINE"))

    clash = await update_discount(client, tenant, discount["id"], code="taken")
    assert_names_field(clash, ("body", "code"))
    recased = await update_discount(client, tenant, discount["id"], code="mine")
    assert recased.status_code == 200, recased.text
    assert recased.json()["code"] == "mine"
    cleared = await update_discount(client, tenant, discount["id"], code=None)
    assert cleared.json()["code"] is None
    again = await update_discount(client, tenant, taken["id"], code="TAKEN")
    assert again.status_code == 200, again.text


# List


async def test_list_paginates_newest_first(client: httpx.AsyncClient, tenant: Tenant) -> None:
    for name in ("A", "B", "C"):
        await create_discount(client, tenant, percentage(name=name))

    first = await list_discounts(client, tenant, {"limit": 2})
    second = await list_discounts(client, tenant, {"limit": 2, "page": 2})

    assert names(first) + names(second) == ["C", "B", "A"]
    assert first["pagination"] == {"total_count": 3, "max_page": 2}
    for item in first["items"]:
        assert_contract_shape(item)


async def test_list_query_matches_name_or_code(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create_discount(client, tenant, percentage(name="Black Friday", code="BF2030"))
    await create_discount(client, tenant, percentage(name="Spring", code="BLOOM"))
    await create_discount(client, tenant, percentage(name="100% off_", code=None))

    assert names(await list_discounts(client, tenant, {"query": "friday"})) == ["Black Friday"]
    assert names(await list_discounts(client, tenant, {"query": "bloom"})) == ["Spring"]
    assert names(await list_discounts(client, tenant, {"query": "%"})) == ["100% off_"]
    assert names(await list_discounts(client, tenant, {"query": "_"})) == ["100% off_"]


@pytest.mark.parametrize(
    ("sorting", "expected"),
    [
        ("name", ["Alpha", "Beta", "Gamma"]),
        ("-name", ["Gamma", "Beta", "Alpha"]),
        ("code", ["Beta", "Gamma", "Alpha"]),
        ("-code", ["Alpha", "Gamma", "Beta"]),
        ("ends_at", ["Gamma", "Alpha", "Beta"]),
        ("-ends_at", ["Beta", "Alpha", "Gamma"]),
        ("created_at", ["Gamma", "Alpha", "Beta"]),
        ("-created_at", ["Beta", "Alpha", "Gamma"]),
    ],
)
async def test_list_sorting(
    client: httpx.AsyncClient, tenant: Tenant, sorting: str, expected: list[str]
) -> None:
    await create_discount(
        client, tenant, percentage(name="Gamma", code="BBB", ends_at="2030-01-01T00:00:00Z")
    )
    await create_discount(
        client, tenant, percentage(name="Alpha", code="CCC", ends_at="2031-01-01T00:00:00Z")
    )
    await create_discount(client, tenant, percentage(name="Beta", code="AAA"))

    assert names(await list_discounts(client, tenant, {"sorting": sorting})) == expected


async def test_list_rejects_unknown_sorting(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(
        "/v1/discounts/", params={"sorting": "price"}, headers=tenant.headers
    )
    assert_names_field(response, ("query", "sorting"))


async def test_list_organization_filter(
    client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
) -> None:
    await create_discount(client, tenant, percentage())
    other = await make_tenant()

    own = await list_discounts(client, tenant, {"organization_id": str(tenant.organization_id)})
    foreign = await list_discounts(client, tenant, {"organization_id": str(other.organization_id)})

    assert own["pagination"]["total_count"] == 1
    assert foreign["items"] == []


# Update


async def test_update_fields(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await create_product(client, tenant)
    discount = await create_discount(client, tenant, percentage(code="OLD", max_redemptions=3))

    response = await update_discount(
        client,
        tenant,
        discount["id"],
        name="Renamed",
        basis_points=5000,
        starts_at="2030-01-01T00:00:00Z",
        ends_at="2030-02-01T00:00:00Z",
        max_redemptions=None,
        max_redemptions_per_customer=1,
        metadata={"v": 2},
        products=[product["id"]],
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "Renamed"
    assert updated["basis_points"] == 5000
    assert updated["code"] == "OLD"  # untouched: not in the body
    assert updated["starts_at"].startswith("2030-01-01")
    assert updated["ends_at"].startswith("2030-02-01")
    assert updated["max_redemptions"] is None
    assert updated["max_redemptions_per_customer"] == 1
    assert updated["metadata"] == {"v": 2}
    assert [p["id"] for p in updated["products"]] == [product["id"]]
    assert updated["modified_at"] is not None
    assert_contract_shape(updated)
    assert await get_discount(client, tenant, discount["id"]) == updated

    cleared = await update_discount(client, tenant, discount["id"], products=[], ends_at=None)
    assert cleared.json()["products"] == []
    assert cleared.json()["ends_at"] is None


async def test_update_fixed_amounts(client: httpx.AsyncClient, tenant: Tenant) -> None:
    discount = await create_discount(client, tenant, fixed(500, "usd"))

    by_map = await update_discount(client, tenant, discount["id"], amounts={"usd": 400, "eur": 350})
    assert by_map.status_code == 200, by_map.text
    assert by_map.json()["amounts"] == {"usd": 400, "eur": 350}
    assert (by_map.json()["amount"], by_map.json()["currency"]) == (400, "usd")

    main = await update_discount(client, tenant, discount["id"], currency="eur")
    assert (main.json()["amount"], main.json()["currency"]) == (350, "eur")
    assert main.json()["amounts"] == {"usd": 400, "eur": 350}

    single = await update_discount(client, tenant, discount["id"], amount=250, currency="gbp")
    assert single.json()["amounts"] == {"gbp": 250}
    assert_contract_shape(single.json())


async def test_update_duration_in_months(client: httpx.AsyncClient, tenant: Tenant) -> None:
    repeating = await create_discount(
        client, tenant, percentage(duration="repeating", duration_in_months=2)
    )
    response = await update_discount(client, tenant, repeating["id"], duration_in_months=6)
    assert response.json()["duration_in_months"] == 6

    once = await create_discount(client, tenant, percentage())
    refused = await update_discount(client, tenant, once["id"], duration_in_months=6)
    assert_names_field(refused, ("body", "duration_in_months"))
    cleared = await update_discount(client, tenant, repeating["id"], duration_in_months=None)
    assert_names_field(cleared, ("body", "duration_in_months"))


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"type": "fixed"}, ("body", "type")),
        ({"duration": "forever"}, ("body", "duration")),
        ({"amount": 100}, ("body", "amount")),
        ({"amounts": {"usd": 100}}, ("body", "amounts")),
        ({"basis_points": 0}, ("body", "basis_points")),
        ({"max_redemptions": 0}, ("body", "max_redemptions")),
        ({"code": "no spaces"}, ("body", "code")),
        ({"name": ""}, ("body", "name")),
        ({"ends_at": "2020-01-01T00:00:00Z"}, ("body", "ends_at")),
        ({"starts_at": "2040-01-01T00:00:00Z"}, ("body", "ends_at")),
        ({"products": [str(uuid.uuid4())]}, ("body", "products", 0)),
        ({"metadata": {"k": {"nested": True}}}, ("body", "metadata")),
    ],
)
async def test_bad_updates_name_the_field_and_change_nothing(
    client: httpx.AsyncClient, tenant: Tenant, fields: JSON, loc: tuple[str | int, ...]
) -> None:
    discount = await create_discount(
        client,
        tenant,
        percentage(starts_at="2030-01-01T00:00:00Z", ends_at="2035-01-01T00:00:00Z"),
    )

    response = await update_discount(client, tenant, discount["id"], **fields)

    assert_names_field(response, loc)
    assert await get_discount(client, tenant, discount["id"]) == discount


async def test_fixed_discount_refuses_percentage_fields(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    discount = await create_discount(client, tenant, fixed())

    refused = await update_discount(client, tenant, discount["id"], basis_points=100)
    assert_names_field(refused, ("body", "basis_points"))
    unknown = await update_discount(client, tenant, discount["id"], currency="eur")
    assert_names_field(unknown, ("body", "currency"))
    conflicting = await update_discount(
        client, tenant, discount["id"], amount=1, amounts={"usd": 2}
    )
    assert_names_field(conflicting, ("body", "amount"))


# Delete, tenancy, scopes


async def test_delete_hides_the_discount(client: httpx.AsyncClient, tenant: Tenant) -> None:
    kept = await create_discount(client, tenant, percentage(name="Kept"))
    gone = await create_discount(client, tenant, percentage(name="Gone"))

    response = await client.delete(f"/v1/discounts/{gone['id']}", headers=tenant.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert (
        await client.get(f"/v1/discounts/{gone['id']}", headers=tenant.headers)
    ).status_code == 404
    assert names(await list_discounts(client, tenant)) == [kept["name"]]
    again = await client.delete(f"/v1/discounts/{gone['id']}", headers=tenant.headers)
    assert again.status_code == 404
    patched = await update_discount(client, tenant, gone["id"], name="Back")
    assert patched.status_code == 404


async def test_other_organizations_discounts_are_not_found(
    client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
) -> None:
    discount = await create_discount(client, tenant, percentage())
    intruder = await make_tenant()
    path = f"/v1/discounts/{discount['id']}"

    for method in ("GET", "PATCH", "DELETE"):
        kwargs: JSON = {"json": {"name": "Mine"}} if method == "PATCH" else {}
        response = await client.request(method, path, headers=intruder.headers, **kwargs)
        assert response.status_code == 404, method
        assert response.json()["error"] == "ResourceNotFound"
    assert (await list_discounts(client, intruder))["items"] == []
    assert await get_discount(client, tenant, discount["id"]) == discount


async def test_products_of_another_organization_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
) -> None:
    own = await create_product(client, tenant)
    other = await make_tenant()
    foreign = await create_product(client, other)

    response = await client.post(
        "/v1/discounts/",
        json=percentage(products=[own["id"], foreign["id"]]),
        headers=tenant.headers,
    )

    assert_names_field(response, ("body", "products", 1))
    assert response.json()["detail"][0]["input"] == foreign["id"]
    assert (await list_discounts(client, tenant))["items"] == []


async def test_organization_id_must_be_the_tokens(
    client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
) -> None:
    other = await make_tenant()
    refused = await client.post(
        "/v1/discounts/",
        json=percentage(organization_id=str(other.organization_id)),
        headers=tenant.headers,
    )
    assert_names_field(refused, ("body", "organization_id"))
    accepted = await create_discount(
        client, tenant, percentage(organization_id=str(tenant.organization_id))
    )
    assert accepted["organization_id"] == str(tenant.organization_id)


async def test_scopes(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    reader = await make_tenant(frozenset({Scope.discounts_read}))
    outsider = await make_tenant(frozenset({Scope.products_read}))

    assert (await client.get("/v1/discounts/", headers=reader.headers)).status_code == 200
    created = await client.post("/v1/discounts/", json=percentage(), headers=reader.headers)
    assert created.status_code == 403
    assert (await client.get("/v1/discounts/", headers=outsider.headers)).status_code == 403
    assert (await client.get("/v1/discounts/")).status_code == 401


# Webhooks


async def test_changes_emit_webhook_events(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    events = ["discount.created", "discount.updated", "discount.deleted"]
    with running_receiver() as receiver:
        endpoint = await client.post(
            "/v1/webhooks/endpoints",
            headers=tenant.headers,
            json={"url": receiver.url, "format": "raw", "events": events},
        )
    assert endpoint.status_code == 201, endpoint.text
    discount = await create_discount(client, tenant, percentage(duration="forever"))
    updated = (await update_discount(client, tenant, discount["id"], name="Renamed")).json()
    await client.delete(f"/v1/discounts/{discount['id']}", headers=tenant.headers)

    async with sessionmaker() as session:
        rows = await session.execute(
            select(WebhookEvent.payload)
            .where(WebhookEvent.organization_id == tenant.organization_id)
            .order_by(WebhookEvent.sequence)
        )
        bodies = [json.loads(payload) for payload in rows.scalars()]

    assert [body["type"] for body in bodies] == events
    assert bodies[0]["data"] == discount
    assert bodies[1]["data"] == updated
    deleted = bodies[2]["data"]  # as it was when deleted; the deletion is a modification
    assert {**deleted, "modified_at": None} == {**updated, "modified_at": None}
    assert deleted["modified_at"] > updated["modified_at"]
    schemas = ["WebhookDiscount" + kind + "Payload" for kind in ("Created", "Updated", "Deleted")]
    for body, schema in zip(bodies, schemas, strict=True):
        assert_conforms(schema, body)
