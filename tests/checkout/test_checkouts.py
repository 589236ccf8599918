"""Checkout sessions through the API: creation, amounts, updates, and the client endpoints."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from kassa.kit import clock
from tests.checkout.conftest import JSON, create_checkout, create_product
from tests.conftest import Tenant, TenantFactory
from tests.contract import schema_errors


async def test_create_by_product_id_serves_the_contract_shape(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(client, tenant)
    checkout = await create_checkout(
        client,
        tenant,
        product_id=product["id"],
        metadata={"order_ref": "A-1"},
        success_url="https://merchant.example/thanks?checkout={CHECKOUT_ID}",
    )
    assert schema_errors("Checkout", checkout) == []
    assert checkout["status"] == "open"
    assert checkout["product_id"] == product["id"]
    assert checkout["product_price_id"] == product["prices"][0]["id"]
    assert (checkout["amount"], checkout["discount_amount"]) == (2500, 0)
    assert (checkout["net_amount"], checkout["tax_amount"], checkout["total_amount"]) == (
        2500,
        0,
        2500,
    )
    assert checkout["currency"] == "usd"
    assert checkout["success_url"] == f"https://merchant.example/thanks?checkout={checkout['id']}"
    assert checkout["url"].endswith(f"/checkout/{checkout['client_secret']}")
    assert checkout["is_payment_required"] is True
    assert checkout["metadata"] == {"order_ref": "A-1"}

    fetched = await client.get(f"/v1/checkouts/{checkout['id']}", headers=tenant.headers)
    assert fetched.status_code == 200
    assert fetched.json() == checkout

    public = await client.get(f"/v1/checkouts/client/{checkout['client_secret']}")
    assert public.status_code == 200
    assert schema_errors("CheckoutPublic", public.json()) == []
    assert public.json()["organization"]["id"] == str(tenant.organization_id)


async def test_create_with_products_list_and_price_id(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    first = await create_product(client, tenant)
    second = await create_product(
        client, tenant, {"amount_type": "fixed", "price_amount": 900, "price_currency": "eur"}
    )
    checkout = await create_checkout(client, tenant, products=[second["id"], first["id"]])
    assert checkout["product_id"] == second["id"]
    assert [p["id"] for p in checkout["products"]] == [second["id"], first["id"]]
    assert (checkout["amount"], checkout["currency"]) == (900, "eur")

    by_price = await create_checkout(client, tenant, product_price_id=first["prices"][0]["id"])
    assert by_price["product_id"] == first["id"]

    switched = await client.patch(
        f"/v1/checkouts/client/{checkout['client_secret']}", json={"product_id": first["id"]}
    )
    assert switched.status_code == 200, switched.text
    assert (switched.json()["amount"], switched.json()["currency"]) == (2500, "usd")


async def test_pay_what_you_want_amounts(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await create_product(
        client,
        tenant,
        {
            "amount_type": "custom",
            "price_currency": "usd",
            "minimum_amount": 500,
            "maximum_amount": 10000,
            "preset_amount": 1500,
        },
    )
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    assert checkout["amount"] == 1500
    assert checkout["is_discount_applicable"] is False
    url = f"/v1/checkouts/client/{checkout['client_secret']}"
    assert (await client.patch(url, json={"amount": 4200})).json()["total_amount"] == 4200
    for bad in (499, 10001):
        response = await client.patch(url, json={"amount": bad})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "amount"]
    # A rejected change leaves the checkout as it was.
    assert (await client.get(url)).json()["amount"] == 4200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "products"),
        ({"product_id": "00000000-0000-4000-8000-000000000000"}, "product_id"),
        ({"products": []}, "products"),
        ({"product_id": "PRODUCT", "amount": -1}, "amount"),
        ({"product_id": "PRODUCT", "success_url": "javascript:alert(1)"}, "success_url"),
        ({"product_id": "PRODUCT", "customer_email": "not-an-email"}, "customer_email"),
        ({"product_id": "PRODUCT", "currency": "eur"}, "currency"),
        (
            {"product_id": "PRODUCT", "customer_id": "00000000-0000-4000-8000-000000000000"},
            "customer_id",
        ),
        ({"product_id": "PRODUCT", "prices": {"x": [{}]}}, "prices"),
    ],
)
async def test_bad_input_names_the_field(
    client: httpx.AsyncClient, tenant: Tenant, body: JSON, field: str
) -> None:
    product = await create_product(client, tenant)
    body = {k: (product["id"] if v == "PRODUCT" else v) for k, v in body.items()}
    response = await client.post("/v1/checkouts/", headers=tenant.headers, json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"][0]["loc"]


async def test_recurring_and_archived_products_are_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    recurring = await create_product(client, tenant, recurring_interval="month")
    response = await client.post(
        "/v1/checkouts/", headers=tenant.headers, json={"product_id": recurring["id"]}
    )
    assert response.status_code == 422
    assert "not supported" in response.json()["detail"][0]["msg"]
    archived = await create_product(client, tenant)
    patched = await client.patch(
        f"/v1/products/{archived['id']}", headers=tenant.headers, json={"is_archived": True}
    )
    assert patched.status_code == 200, patched.text
    response = await client.post(
        "/v1/checkouts/", headers=tenant.headers, json={"product_id": archived["id"]}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "This product is archived."


async def test_other_organizations_cannot_see_or_use(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    owner, other = await make_tenant(), await make_tenant()
    product = await create_product(client, owner)
    checkout = await create_checkout(client, owner, product_id=product["id"])
    assert (
        await client.get(f"/v1/checkouts/{checkout['id']}", headers=other.headers)
    ).status_code == 404
    response = await client.post(
        "/v1/checkouts/", headers=other.headers, json={"product_id": product["id"]}
    )
    assert response.status_code == 422
    listed = await client.get("/v1/checkouts/", headers=other.headers)
    assert listed.json()["pagination"]["total_count"] == 0


async def test_merchant_update_and_list(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    response = await client.patch(
        f"/v1/checkouts/{checkout['id']}",
        headers=tenant.headers,
        json={
            "metadata": {"k": "v"},
            "customer_email": "x@example.com",
            "allow_discount_codes": False,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["metadata"] == {"k": "v"}
    assert response.json()["customer_email"] == "x@example.com"
    listed = await client.get(
        "/v1/checkouts/", headers=tenant.headers, params={"status": "open", "query": "x@example"}
    )
    assert [c["id"] for c in listed.json()["items"]] == [checkout["id"]]
    code = await client.patch(
        f"/v1/checkouts/client/{checkout['client_secret']}", json={"discount_code": "ANY"}
    )
    assert code.status_code == 422
    assert code.json()["detail"][0]["loc"] == ["body", "discount_code"]


async def test_expired_checkouts_answer_410(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    url = f"/v1/checkouts/client/{checkout['client_secret']}"
    try:
        clock.advance(timedelta(hours=2))
        response = await client.get(url)
        assert response.status_code == 410
        assert response.json()["error"] == "ExpiredCheckoutError"
        assert (await client.post(f"{url}/confirm", json={})).status_code == 410
    finally:
        clock.reset()
    assert (await client.get("/v1/checkouts/client/kassa_c_unknown")).status_code == 404


async def test_products_referred_to_are_no_longer_deletable(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    sold, discounted, linked, untouched = [await create_product(client, tenant) for _ in range(4)]
    assert all(p["is_deletable"] for p in (sold, discounted, linked, untouched))
    await create_checkout(client, tenant, product_id=sold["id"])
    discount = await client.post(
        "/v1/discounts/",
        headers=tenant.headers,
        json={
            "name": "Only one",
            "type": "percentage",
            "basis_points": 500,
            "duration": "once",
            "products": [discounted["id"]],
        },
    )
    assert discount.status_code == 201, discount.text
    link = await client.post(
        "/v1/checkout-links/",
        headers=tenant.headers,
        json={"payment_processor": "stripe", "products": [linked["id"]]},
    )
    assert link.status_code == 201, link.text
    listed = await client.get("/v1/products/", headers=tenant.headers, params={"limit": 100})
    deletable = {p["id"]: p["is_deletable"] for p in listed.json()["items"]}
    assert deletable[sold["id"]] is False
    assert deletable[discounted["id"]] is False
    assert deletable[linked["id"]] is False
    assert deletable[untouched["id"]] is True
    one = await client.get(f"/v1/products/{sold['id']}", headers=tenant.headers)
    assert one.json()["is_deletable"] is False
