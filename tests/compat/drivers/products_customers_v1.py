"""Products and customers through `polar-sdk` 1.0.x (`polar.v2026_10`).

Run by the 1.0 SDK environment's interpreter with KASSA_URL and KASSA_TOKEN
(and optionally KASSA_ORGANIZATION_ID) set. Uses only the SDK's typed API.
"""

from __future__ import annotations

from typing import Any

from _driver import Driver
from _payloads import (
    BILLING_ADDRESS,
    CUSTOM_PRICE,
    FIXED_PRICE,
    MISSING_ID,
    UPDATED_BILLING_ADDRESS,
    UPDATED_METADATA,
    customer,
    one_time_product,
    recurring_custom_product,
    second_customer,
)
from polar.v2026_10 import Polar
from polar.v2026_10.errors import HTTPValidationError, ResourceNotFound
from polar.v2026_10.outputs import (
    CustomerIndividual,
    Product,
    ProductPriceCustom,
    ProductPriceFixed,
)


def main(d: Driver) -> dict[str, Any]:
    with Polar(d.token, base_url=d.base_url, timeout=30.0) as polar:
        # Diagnostics only: the 1.0 client takes no custom httpx client, so the
        # failure report's request/response capture hooks into its private one.
        polar._client._client.event_hooks["response"].append(d.on_response)
        return {"products": products(d, polar), "customers": customers(d, polar)}


def products(d: Driver, polar: Polar) -> list[str]:
    with d.step("products.create one-time fixed price"):
        one_time = polar.products.create(**one_time_product(d.run_id))
        check_product(d, one_time, one_time_product(d.run_id), "created one-time product")
        fixed = d.instance(one_time.prices[0], ProductPriceFixed, "one-time product price")
        d.equal(fixed.amount_type, "fixed", "fixed price amount_type")
        d.equal(fixed.price_amount, FIXED_PRICE["price_amount"], "fixed price price_amount")
        d.equal(fixed.price_currency, "usd", "fixed price price_currency")
        d.equal(fixed.product_id, one_time.id, "fixed price product_id")

    with d.step("products.create recurring monthly custom price"):
        monthly = polar.products.create(**recurring_custom_product(d.run_id))
        check_product(d, monthly, recurring_custom_product(d.run_id), "created monthly product")
        custom = d.instance(monthly.prices[0], ProductPriceCustom, "monthly product price")
        d.equal(custom.amount_type, "custom", "custom price amount_type")
        for key in ("minimum_amount", "maximum_amount", "preset_amount"):
            d.equal(getattr(custom, key), CUSTOM_PRICE[key], f"custom price {key}")

    with d.step("products.list paginated (limit=1)"):
        expected_order = [monthly.id, one_time.id]  # sorted by -created_at
        seen: list[str] = []
        for page in (1, 2):
            listed = polar.products.list(page=page, limit=1, sorting=["-created_at"])
            d.equal(listed.pagination.total_count, 2, f"page {page} pagination.total_count")
            d.equal(listed.pagination.max_page, 2, f"page {page} pagination.max_page")
            d.equal(len(listed.items), 1, f"page {page} item count")
            seen.extend(item.id for item in listed.items)
        d.equal(seen, expected_order, "product ids over pages 1..2")
        beyond = polar.products.list(page=3, limit=1)
        d.equal(beyond.items, [], "page past max_page items")
        walked = [item.id for item in polar.products.iter_list(limit=1)]
        d.equal(walked, expected_order, "product ids from products.iter_list(limit=1)")

    if d.organization_id:
        with d.step("Polar(organization_id=...) sends the Polar-Organization header"):
            scoped = Polar(
                d.token, base_url=d.base_url, timeout=30.0, organization_id=d.organization_id
            )
            with scoped:
                scoped._client._client.event_hooks["response"].append(d.on_response)
                ids = [item.id for item in scoped.products.list(limit=10).items]
            d.equal(ids, expected_order, "product ids listed with Polar-Organization")

    with d.step("products.get by id"):
        fetched = polar.products.get(one_time.id)
        d.equal(fetched.id, one_time.id, "fetched product id")
        check_product(d, fetched, one_time_product(d.run_id), "fetched product")

    with d.step("products.update name/description/metadata"):
        new_name = f"Compat renamed {d.run_id}"
        updated = polar.products.update(
            one_time.id,
            name=new_name,
            description="Updated description",
            metadata=dict(UPDATED_METADATA),
        )
        d.equal(updated.name, new_name, "updated product name")
        d.equal(updated.description, "Updated description", "updated product description")
        d.equal(updated.metadata, UPDATED_METADATA, "updated product metadata")
        d.equal(polar.products.get(one_time.id).name, new_name, "name after re-reading")

    with d.step("products.update is_archived=true"):
        archived = polar.products.update(monthly.id, is_archived=True)
        d.equal(archived.is_archived, True, "archived product is_archived")
        active = polar.products.list(is_archived=False, limit=10)
        d.equal([p.id for p in active.items], [one_time.id], "products.list(is_archived=False)")

    with d.step("products.get unknown id raises ResourceNotFound"):
        error = d.raises(ResourceNotFound, lambda: polar.products.get(MISSING_ID), "get")
        d.equal(error.status_code, 404, "ResourceNotFound status_code")
        d.equal(error.error.error, "ResourceNotFound", "404 body 'error'")

    with d.step("products.create invalid body raises HTTPValidationError"):
        short = one_time_product(d.run_id) | {"name": "x"}
        error = d.raises(HTTPValidationError, lambda: polar.products.create(**short), "name")
        check_validation(d, error, "name")
        negative = one_time_product(d.run_id) | {"prices": [FIXED_PRICE | {"price_amount": -5}]}
        error = d.raises(
            HTTPValidationError, lambda: polar.products.create(**negative), "price_amount"
        )
        check_validation(d, error, "prices")

    return [one_time.id, monthly.id]


def customers(d: Driver, polar: Polar) -> list[str]:
    payload = customer(d.run_id)
    with d.step("customers.create"):
        created = polar.customers.create(**payload)
        check_customer(d, created, payload, "created customer")
        second = polar.customers.create(**second_customer(d.run_id))
        d.equal(second.external_id, None, "second customer external_id")

    with d.step("customers.list paginated (limit=1)"):
        expected_order = [second.id, created.id]
        seen: list[str] = []
        for page in (1, 2):
            listed = polar.customers.list(page=page, limit=1, sorting=["-created_at"])
            d.equal(listed.pagination.total_count, 2, f"page {page} pagination.total_count")
            d.equal(listed.pagination.max_page, 2, f"page {page} pagination.max_page")
            seen.extend(item.id for item in listed.items)
        d.equal(seen, expected_order, "customer ids over pages 1..2")
        walked = [item.id for item in polar.customers.iter_list(limit=1)]
        d.equal(walked, expected_order, "customer ids from customers.iter_list(limit=1)")

    with d.step("customers.get by id"):
        check_customer(d, polar.customers.get(created.id), payload, "fetched customer")

    with d.step("customers.get_external by external id"):
        by_external = polar.customers.get_external(payload["external_id"])
        d.equal(by_external.id, created.id, "customer id fetched by external id")

    with d.step("customers.update"):
        updated = polar.customers.update(
            created.id,
            name="Renamed Customer",
            metadata={"plan": "enterprise"},
            billing_address=dict(UPDATED_BILLING_ADDRESS),
        )
        d.equal(updated.name, "Renamed Customer", "updated customer name")
        d.equal(updated.metadata, {"plan": "enterprise"}, "updated customer metadata")
        d.check(updated.billing_address is not None, "updated billing_address is null")
        assert updated.billing_address is not None
        d.equal(updated.billing_address.country, "DE", "updated billing_address.country")
        d.equal(updated.billing_address.city, "Berlin", "updated billing_address.city")
        d.equal(updated.email, payload["email"], "email unchanged by the update")

    with d.step("customers.get unknown id raises ResourceNotFound"):
        error = d.raises(ResourceNotFound, lambda: polar.customers.get(MISSING_ID), "get")
        d.equal(error.error.error, "ResourceNotFound", "404 body 'error'")
        d.raises(
            ResourceNotFound,
            lambda: polar.customers.get_external(f"missing-{d.run_id}"),
            "get_external",
        )

    with d.step("customers.create invalid email raises HTTPValidationError"):
        error = d.raises(
            HTTPValidationError,
            lambda: polar.customers.create(email="not-an-email"),
            "email",
        )
        check_validation(d, error, "email")

    return [created.id, second.id]


def check_product(d: Driver, product: Product, sent: dict[str, Any], what: str) -> None:
    d.instance(product, Product, what)
    d.equal(product.name, sent["name"], f"{what} name")
    d.equal(product.description, sent.get("description"), f"{what} description")
    d.equal(product.metadata, sent.get("metadata", {}), f"{what} metadata")
    interval = sent.get("recurring_interval")
    d.equal(product.recurring_interval, interval, f"{what} recurring_interval")
    d.equal(product.recurring_interval_count, 1 if interval else None, f"{what} interval count")
    d.equal(product.is_recurring, interval is not None, f"{what} is_recurring")
    d.equal(product.is_archived, False, f"{what} is_archived")
    d.equal(product.visibility, "public", f"{what} visibility")
    d.equal(len(product.prices), 1, f"{what} number of prices")
    d.equal(product.benefits, [], f"{what} benefits")
    d.equal(product.medias, [], f"{what} medias")
    if d.organization_id:
        d.equal(product.organization_id, d.organization_id, f"{what} organization_id")


def check_customer(d: Driver, value: object, sent: dict[str, Any], what: str) -> None:
    created = d.instance(value, CustomerIndividual, what)
    d.equal(created.email, sent["email"], f"{what} email")
    d.equal(created.name, sent["name"], f"{what} name")
    d.equal(created.external_id, sent["external_id"], f"{what} external_id")
    d.equal(created.metadata, sent["metadata"], f"{what} metadata")
    d.equal(created.type, "individual", f"{what} type")
    d.equal(created.deleted_at, None, f"{what} deleted_at")
    d.check(created.billing_address is not None, f"{what} billing_address is null")
    assert created.billing_address is not None
    for key, value_sent in BILLING_ADDRESS.items():
        d.equal(getattr(created.billing_address, key), value_sent, f"{what} billing_address.{key}")
    if d.organization_id:
        d.equal(created.organization_id, d.organization_id, f"{what} organization_id")


def check_validation(d: Driver, error: HTTPValidationError, field: str) -> None:
    d.equal(error.status_code, 422, "HTTPValidationError status_code")
    detail = error.error.detail or []
    d.check(len(detail) > 0, "422 body has an empty or missing 'detail' list")
    d.check(
        any(field in [str(part) for part in item.loc] for item in detail),
        f"422 detail should name the field {field!r}; got locs {[item.loc for item in detail]}",
    )


if __name__ == "__main__":
    Driver(generation="1.0").run(main)
