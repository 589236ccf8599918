"""Checkout links: CRUD per the contract, and opening one starts a fresh checkout."""

from __future__ import annotations

import httpx

from tests.checkout.conftest import create_product
from tests.conftest import Tenant, TenantFactory
from tests.contract import schema_errors


async def test_link_lifecycle_and_opening(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await create_product(client, tenant)
    created = await client.post(
        "/v1/checkout-links/",
        headers=tenant.headers,
        json={
            "payment_processor": "stripe",
            "products": [product["id"]],
            "label": "Launch link",
            "metadata": {"campaign": "launch"},
            "success_url": "https://merchant.example/done?c={CHECKOUT_ID}",
            "require_billing_address": True,
        },
    )
    assert created.status_code == 201, created.text
    link = created.json()
    assert schema_errors("CheckoutLink", link) == []
    assert link["url"].endswith(f"/checkout-links/{link['client_secret']}")

    opened = []
    for _ in range(2):
        response = await client.get(link["url"].replace("http://kassa.test", ""))
        assert response.status_code == 303
        opened.append(response.headers["location"])
    assert opened[0] != opened[1], "each opening is a fresh checkout"
    secret = opened[0].rsplit("/", 1)[-1]
    checkout = (await client.get(f"/v1/checkouts/client/{secret}")).json()
    assert checkout["product_id"] == product["id"]
    assert checkout["require_billing_address"] is True
    assert checkout["success_url"] == f"https://merchant.example/done?c={checkout['id']}"
    merchant_view = await client.get(f"/v1/checkouts/{checkout['id']}", headers=tenant.headers)
    assert merchant_view.json()["metadata"] == {"campaign": "launch"}

    updated = await client.patch(
        f"/v1/checkout-links/{link['id']}", headers=tenant.headers, json={"label": "Renamed"}
    )
    assert updated.status_code == 200 and updated.json()["label"] == "Renamed"
    listed = await client.get(
        "/v1/checkout-links/", headers=tenant.headers, params={"product_id": product["id"]}
    )
    assert [item["id"] for item in listed.json()["items"]] == [link["id"]]

    deleted = await client.delete(f"/v1/checkout-links/{link['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    assert (
        await client.get(f"/v1/checkout-links/{link['id']}", headers=tenant.headers)
    ).status_code == 404
    gone = await client.get(f"/checkout-links/{link['client_secret']}")
    assert gone.status_code == 404


async def test_link_input_errors_name_the_field(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    owner, other = await make_tenant(), await make_tenant()
    product = await create_product(client, owner)
    for body, field in (
        ({"payment_processor": "stripe"}, "products"),
        ({"payment_processor": "paypal", "products": [product["id"]]}, "payment_processor"),
        ({"payment_processor": "stripe", "product_id": product["id"], "seats": 0}, "seats"),
    ):
        response = await client.post("/v1/checkout-links/", headers=owner.headers, json=body)
        assert response.status_code == 422, response.text
        assert field in response.json()["detail"][0]["loc"]
    foreign = await client.post(
        "/v1/checkout-links/",
        headers=other.headers,
        json={"payment_processor": "stripe", "product_id": product["id"]},
    )
    assert foreign.status_code == 422
    link = (
        await client.post(
            "/v1/checkout-links/",
            headers=owner.headers,
            json={"payment_processor": "stripe", "product_id": product["id"]},
        )
    ).json()
    bad_email = await client.get(
        f"/checkout-links/{link['client_secret']}", params={"customer_email": "nope"}
    )
    assert bad_email.status_code == 422
    assert bad_email.json()["detail"][0]["loc"] == ["query", "customer_email"]
