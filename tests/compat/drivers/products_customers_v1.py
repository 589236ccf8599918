"""Products and customers through `polar-sdk` 1.0.x (`polar.v2026_10`).

Run by the 1.0 SDK environment's interpreter with KASSA_URL and KASSA_TOKEN
(and optionally KASSA_ORGANIZATION_ID) set. Uses only the SDK's typed API.
"""

from __future__ import annotations

from typing import Any

import _payloads as p
from _driver import Driver
from polar.v2026_10 import Polar
from polar.v2026_10.errors import HTTPValidationError, ResourceNotFound
from polar.v2026_10.inputs import (
    AddressInput,
    CustomerIndividualCreate,
    ProductCreateOneTime,
    ProductCreateRecurring,
    ProductPriceFixedCreate,
)
from polar.v2026_10.literals import RecurringInterval
from polar.v2026_10.outputs import (
    CustomerIndividual,
    Product,
    ProductPriceCustom,
    ProductPriceFixed,
)

PARIS: AddressInput = {
    "line1": "1 Rue de Rivoli",
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
}
BERLIN: AddressInput = {
    "line1": "Unter den Linden 1",
    "postal_code": "10117",
    "city": "Berlin",
    "country": "DE",
}


def fixed_price(amount: int) -> ProductPriceFixedCreate:
    return {"amount_type": "fixed", "price_amount": amount, "price_currency": "usd"}


def one_time_request(names: p.Names) -> ProductCreateOneTime:
    return {
        "name": names.one_time,
        "description": p.ONE_TIME_DESCRIPTION,
        "prices": [fixed_price(p.FIXED_AMOUNT)],
        "metadata": dict(p.PRODUCT_METADATA),
    }


def monthly_request(names: p.Names) -> ProductCreateRecurring:
    return {
        "name": names.monthly,
        "description": None,
        "recurring_interval": "month",
        "prices": [
            {
                "amount_type": "custom",
                "price_currency": "usd",
                "minimum_amount": p.CUSTOM_MINIMUM,
                "maximum_amount": p.CUSTOM_MAXIMUM,
                "preset_amount": p.CUSTOM_PRESET,
            }
        ],
    }


def customer_request(names: p.Names) -> CustomerIndividualCreate:
    return {
        "email": names.email,
        "name": names.customer,
        "external_id": names.external_id,
        "metadata": dict(p.CUSTOMER_METADATA),
        "billing_address": PARIS,
    }


def main(d: Driver) -> dict[str, Any]:
    with Polar(d.token, base_url=d.base_url, timeout=30.0) as polar:
        capture(d, polar)
        names = p.Names(d.run_id)
        return {"products": products(d, polar, names), "customers": customers(d, polar, names)}


def capture(d: Driver, polar: Polar) -> None:
    """Record exchanges for failure reports. The 1.0 client takes no custom httpx
    client, so this hooks into its private one (diagnostics only)."""
    polar._client._client.event_hooks["response"].append(d.on_response)


def products(d: Driver, polar: Polar, names: p.Names) -> list[str]:
    with d.step("products.create one-time fixed price"):
        one_time = polar.products.create(**one_time_request(names))
        check_product(d, one_time, names.one_time, p.ONE_TIME_DESCRIPTION, p.PRODUCT_METADATA)
        fixed = d.instance(one_time.prices[0], ProductPriceFixed, "one-time product price")
        d.equal(fixed.amount_type, "fixed", "fixed price amount_type")
        d.equal(fixed.price_amount, p.FIXED_AMOUNT, "fixed price price_amount")
        d.equal(fixed.price_currency, "usd", "fixed price price_currency")
        d.equal(fixed.product_id, one_time.id, "fixed price product_id")

    with d.step("products.create recurring monthly custom price"):
        monthly = polar.products.create(**monthly_request(names))
        check_product(d, monthly, names.monthly, None, {}, interval="month")
        custom = d.instance(monthly.prices[0], ProductPriceCustom, "monthly product price")
        d.equal(custom.amount_type, "custom", "custom price amount_type")
        d.equal(custom.minimum_amount, p.CUSTOM_MINIMUM, "custom price minimum_amount")
        d.equal(custom.maximum_amount, p.CUSTOM_MAXIMUM, "custom price maximum_amount")
        d.equal(custom.preset_amount, p.CUSTOM_PRESET, "custom price preset_amount")

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
                capture(d, scoped)
                ids = [item.id for item in scoped.products.list(limit=10).items]
            d.equal(ids, expected_order, "product ids listed with Polar-Organization")

    with d.step("products.get by id"):
        fetched = polar.products.get(one_time.id)
        d.equal(fetched.id, one_time.id, "fetched product id")
        check_product(d, fetched, names.one_time, p.ONE_TIME_DESCRIPTION, p.PRODUCT_METADATA)

    with d.step("products.update name/description/metadata"):
        updated = polar.products.update(
            one_time.id,
            name=names.renamed,
            description=p.UPDATED_DESCRIPTION,
            metadata=dict(p.UPDATED_METADATA),
        )
        check_product(d, updated, names.renamed, p.UPDATED_DESCRIPTION, p.UPDATED_METADATA)
        d.equal(polar.products.get(one_time.id).name, names.renamed, "name after re-reading")

    with d.step("products.update is_archived=true"):
        archived = polar.products.update(monthly.id, is_archived=True)
        d.equal(archived.is_archived, True, "archived product is_archived")
        active = polar.products.list(is_archived=False, limit=10)
        d.equal([x.id for x in active.items], [one_time.id], "products.list(is_archived=False)")

    with d.step("products.get unknown id raises ResourceNotFound"):
        error = d.raises(ResourceNotFound, lambda: polar.products.get(p.MISSING_ID), "get")
        d.equal(error.status_code, 404, "ResourceNotFound status_code")
        d.equal(error.error.error, "ResourceNotFound", "404 body 'error'")

    with d.step("products.create invalid body raises HTTPValidationError"):
        short = one_time_request(names) | {"name": p.SHORT_NAME}
        error = d.raises(HTTPValidationError, lambda: polar.products.create(**short), "name")
        check_validation(d, error, "name")
        negative = one_time_request(names) | {"prices": [fixed_price(p.NEGATIVE_AMOUNT)]}
        error = d.raises(HTTPValidationError, lambda: polar.products.create(**negative), "amount")
        check_validation(d, error, "prices")

    return [one_time.id, monthly.id]


def customers(d: Driver, polar: Polar, names: p.Names) -> list[str]:
    with d.step("customers.create"):
        created = polar.customers.create(**customer_request(names))
        check_customer(d, created, names, "created customer")
        second = polar.customers.create(email=names.second_email)
        d.equal(second.external_id, None, "second customer external_id")
        d.equal(second.billing_address, None, "second customer billing_address")

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
        check_customer(d, polar.customers.get(created.id), names, "fetched customer")

    with d.step("customers.get_external by external id"):
        by_external = polar.customers.get_external(names.external_id)
        d.equal(by_external.id, created.id, "customer id fetched by external id")

    with d.step("customers.update"):
        updated = polar.customers.update(
            created.id,
            name=p.UPDATED_CUSTOMER_NAME,
            metadata=dict(p.UPDATED_CUSTOMER_METADATA),
            billing_address=BERLIN,
        )
        d.equal(updated.name, p.UPDATED_CUSTOMER_NAME, "updated customer name")
        d.equal(updated.metadata, p.UPDATED_CUSTOMER_METADATA, "updated customer metadata")
        d.equal(updated.email, names.email, "email unchanged by the update")
        d.equal(updated.external_id, names.external_id, "external_id unchanged by the update")
        check_address(d, updated.billing_address, dict(BERLIN), "updated customer")

    with d.step("customers.get unknown id raises ResourceNotFound"):
        error = d.raises(ResourceNotFound, lambda: polar.customers.get(p.MISSING_ID), "get")
        d.equal(error.error.error, "ResourceNotFound", "404 body 'error'")
        d.raises(
            ResourceNotFound,
            lambda: polar.customers.get_external(names.missing_external_id),
            "get_external",
        )

    with d.step("customers.create invalid email raises HTTPValidationError"):
        error = d.raises(
            HTTPValidationError, lambda: polar.customers.create(email=p.INVALID_EMAIL), "email"
        )
        check_validation(d, error, "email")

    return [created.id, second.id]


def check_product(
    d: Driver,
    product: Product,
    name: str,
    description: str | None,
    metadata: dict[str, str | int | float | bool],
    *,
    interval: RecurringInterval | None = None,
) -> None:
    what = f"product {name!r}"
    d.instance(product, Product, what)
    d.equal(product.name, name, f"{what} name")
    d.equal(product.description, description, f"{what} description")
    d.equal(product.metadata, metadata, f"{what} metadata")
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


def check_customer(d: Driver, value: object, names: p.Names, what: str) -> None:
    customer = d.instance(value, CustomerIndividual, what)
    d.equal(customer.email, names.email, f"{what} email")
    d.equal(customer.name, names.customer, f"{what} name")
    d.equal(customer.external_id, names.external_id, f"{what} external_id")
    d.equal(customer.metadata, p.CUSTOMER_METADATA, f"{what} metadata")
    d.equal(customer.type, "individual", f"{what} type")
    d.equal(customer.deleted_at, None, f"{what} deleted_at")
    check_address(d, customer.billing_address, dict(PARIS), what)
    if d.organization_id:
        d.equal(customer.organization_id, d.organization_id, f"{what} organization_id")


def check_address(d: Driver, address: object, sent: dict[str, object], what: str) -> None:
    d.check(address is not None, f"{what} billing_address is null")
    for key, value in sent.items():
        d.equal(getattr(address, key), value, f"{what} billing_address.{key}")


def check_validation(d: Driver, error: HTTPValidationError, field: str) -> None:
    d.equal(error.status_code, 422, "HTTPValidationError status_code")
    detail = error.error.detail or []
    d.check(len(detail) > 0, "422 body has an empty or missing 'detail' list")
    locs = [[str(part) for part in item.loc] for item in detail]
    d.check(any(field in loc for loc in locs), f"422 detail should name {field!r}; got {locs}")


if __name__ == "__main__":
    Driver(generation="1.0").run(main)
