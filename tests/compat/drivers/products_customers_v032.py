"""Products and customers through `polar-sdk` 0.32.0 (`polar_sdk`).

Run by the 0.32 SDK environment's interpreter with KASSA_URL and KASSA_TOKEN
(and optionally KASSA_ORGANIZATION_ID) set. Uses only the SDK's typed API.
"""

from __future__ import annotations

from typing import Any

import _payloads as p
import httpx
from _driver import Driver
from polar_sdk import Polar, models

PARIS: models.AddressInputTypedDict = {
    "line1": "1 Rue de Rivoli",
    "postal_code": "75001",
    "city": "Paris",
    "country": models.AddressInputCountryAlpha2Input.FR,
}
BERLIN: models.AddressInputTypedDict = {
    "line1": "Unter den Linden 1",
    "postal_code": "10117",
    "city": "Berlin",
    "country": models.AddressInputCountryAlpha2Input.DE,
}


def fixed_price(amount: int) -> models.ProductPriceFixedCreateTypedDict:
    return {
        "amount_type": "fixed",
        "price_amount": amount,
        "price_currency": models.PresentmentCurrency.USD,
    }


def one_time_request(names: p.Names) -> models.ProductCreateOneTimeTypedDict:
    return {
        "name": names.one_time,
        "description": p.ONE_TIME_DESCRIPTION,
        "prices": [fixed_price(p.FIXED_AMOUNT)],
        "metadata": dict(p.PRODUCT_METADATA),
    }


def monthly_request(names: p.Names) -> models.ProductCreateRecurringTypedDict:
    return {
        "name": names.monthly,
        "description": None,
        "recurring_interval": models.RecurringInterval.MONTH,
        "prices": [
            {
                "amount_type": "custom",
                "price_currency": models.PresentmentCurrency.USD,
                "minimum_amount": p.CUSTOM_MINIMUM,
                "maximum_amount": p.CUSTOM_MAXIMUM,
                "preset_amount": p.CUSTOM_PRESET,
            }
        ],
    }


def customer_request(names: p.Names) -> models.CustomerIndividualCreateTypedDict:
    return {
        "type": "individual",
        "email": names.email,
        "name": names.customer,
        "external_id": names.external_id,
        "metadata": dict(p.CUSTOMER_METADATA),
        "billing_address": PARIS,
    }


def main(d: Driver) -> dict[str, Any]:
    http = httpx.Client(timeout=30.0, event_hooks={"response": [d.on_response]})
    with http, Polar(access_token=d.token, server_url=d.base_url, client=http) as polar:
        names = p.Names(d.run_id)
        return {"products": products(d, polar, names), "customers": customers(d, polar, names)}


def products(d: Driver, polar: Polar, names: p.Names) -> list[str]:
    with d.step("products.create one-time fixed price (201)"):
        one_time = polar.products.create(request=one_time_request(names))
        check_product(d, one_time, names.one_time, p.ONE_TIME_DESCRIPTION, p.PRODUCT_METADATA)
        fixed = d.instance(one_time.prices[0], models.ProductPriceFixed, "one-time price")
        d.equal(fixed.price_amount, p.FIXED_AMOUNT, "fixed price price_amount")
        d.equal(fixed.price_currency, "usd", "fixed price price_currency")
        d.equal(fixed.product_id, one_time.id, "fixed price product_id")

    with d.step("products.create recurring monthly custom price (201)"):
        monthly = polar.products.create(request=monthly_request(names))
        check_product(d, monthly, names.monthly, None, {}, interval="month")
        custom = d.instance(monthly.prices[0], models.ProductPriceCustom, "monthly price")
        d.equal(custom.minimum_amount, p.CUSTOM_MINIMUM, "custom price minimum_amount")
        d.equal(custom.maximum_amount, p.CUSTOM_MAXIMUM, "custom price maximum_amount")
        d.equal(custom.preset_amount, p.CUSTOM_PRESET, "custom price preset_amount")

    with d.step("products.list paginated (limit=1)"):
        expected_order = [monthly.id, one_time.id]  # sorted by -created_at
        seen: list[str] = []
        page = polar.products.list(limit=1, sorting=[models.ProductSortProperty.MINUS_CREATED_AT])
        while page is not None:
            d.equal(page.result.pagination.total_count, 2, "pagination.total_count")
            d.equal(page.result.pagination.max_page, 2, "pagination.max_page")
            d.equal(len(page.result.items), 1, "items per page")
            seen.extend(item.id for item in page.result.items)
            d.check(len(seen) <= 2, f"next() kept returning pages: ids so far {seen}")
            page = page.next()
        d.equal(seen, expected_order, "product ids walked with ProductsListResponse.next()")
        beyond = polar.products.list(page=3, limit=1)
        d.equal(beyond and beyond.result.items, [], "page past max_page items")

    with d.step("products.get by id"):
        fetched = polar.products.get(id=one_time.id)
        d.equal(fetched.id, one_time.id, "fetched product id")
        check_product(d, fetched, names.one_time, p.ONE_TIME_DESCRIPTION, p.PRODUCT_METADATA)

    with d.step("products.update name/description/metadata"):
        updated = polar.products.update(
            id=one_time.id,
            product_update={
                "name": names.renamed,
                "description": p.UPDATED_DESCRIPTION,
                "metadata": dict(p.UPDATED_METADATA),
            },
        )
        check_product(d, updated, names.renamed, p.UPDATED_DESCRIPTION, p.UPDATED_METADATA)
        d.equal(polar.products.get(id=one_time.id).name, names.renamed, "name after re-reading")

    with d.step("products.update is_archived=true"):
        archived = polar.products.update(id=monthly.id, product_update={"is_archived": True})
        d.equal(archived.is_archived, True, "archived product is_archived")
        active = polar.products.list(is_archived=False, limit=10)
        active_ids = [x.id for x in active.result.items] if active else None
        d.equal(active_ids, [one_time.id], "products.list(is_archived=False)")

    with d.step("products.get unknown id raises ResourceNotFound"):
        error = d.raises(
            models.ResourceNotFound, lambda: polar.products.get(id=p.MISSING_ID), "get"
        )
        d.equal(error.status_code, 404, "ResourceNotFound status_code")
        d.equal(error.data.ERROR, "ResourceNotFound", "404 body 'error'")

    with d.step("products.create invalid body raises HTTPValidationError"):
        short = one_time_request(names) | {"name": p.SHORT_NAME}
        error = d.raises(
            models.HTTPValidationError, lambda: polar.products.create(request=short), "name"
        )
        check_validation(d, error, "name")
        negative = one_time_request(names) | {"prices": [fixed_price(p.NEGATIVE_AMOUNT)]}
        error = d.raises(
            models.HTTPValidationError, lambda: polar.products.create(request=negative), "amount"
        )
        check_validation(d, error, "prices")

    return [one_time.id, monthly.id]


def customers(d: Driver, polar: Polar, names: p.Names) -> list[str]:
    with d.step("customers.create (201)"):
        created = polar.customers.create(request=customer_request(names))
        check_customer(d, created, names, "created customer")
        second = polar.customers.create(request={"type": "individual", "email": names.second_email})
        d.equal(second.external_id, None, "second customer external_id")
        d.equal(second.billing_address, None, "second customer billing_address")

    with d.step("customers.list paginated (limit=1)"):
        expected_order = [second.id, created.id]
        seen: list[str] = []
        page = polar.customers.list(limit=1, sorting=[models.CustomerSortProperty.MINUS_CREATED_AT])
        while page is not None:
            d.equal(page.result.pagination.total_count, 2, "pagination.total_count")
            d.equal(page.result.pagination.max_page, 2, "pagination.max_page")
            seen.extend(item.id for item in page.result.items)
            d.check(len(seen) <= 2, f"next() kept returning pages: ids so far {seen}")
            page = page.next()
        d.equal(seen, expected_order, "customer ids walked with CustomersListResponse.next()")

    with d.step("customers.get by id"):
        check_customer(d, polar.customers.get(id=created.id), names, "fetched customer")

    with d.step("customers.get_external by external id"):
        by_external = polar.customers.get_external(external_id=names.external_id)
        d.equal(by_external.id, created.id, "customer id fetched by external id")

    with d.step("customers.update"):
        updated = polar.customers.update(
            id=created.id,
            customer_update={
                "name": p.UPDATED_CUSTOMER_NAME,
                "metadata": dict(p.UPDATED_CUSTOMER_METADATA),
                "billing_address": BERLIN,
            },
        )
        d.equal(updated.name, p.UPDATED_CUSTOMER_NAME, "updated customer name")
        d.equal(updated.metadata, p.UPDATED_CUSTOMER_METADATA, "updated customer metadata")
        d.equal(updated.email, names.email, "email unchanged by the update")
        d.equal(updated.external_id, names.external_id, "external_id unchanged by the update")
        check_address(d, updated.billing_address, dict(BERLIN), "updated customer")

    with d.step("customers.get unknown id raises ResourceNotFound"):
        error = d.raises(
            models.ResourceNotFound, lambda: polar.customers.get(id=p.MISSING_ID), "get"
        )
        d.equal(error.data.ERROR, "ResourceNotFound", "404 body 'error'")
        d.raises(
            models.ResourceNotFound,
            lambda: polar.customers.get_external(external_id=names.missing_external_id),
            "get_external",
        )

    with d.step("customers.create invalid email raises HTTPValidationError"):
        invalid: models.CustomerIndividualCreateTypedDict = {
            "type": "individual",
            "email": p.INVALID_EMAIL,
        }
        error = d.raises(
            models.HTTPValidationError, lambda: polar.customers.create(request=invalid), "email"
        )
        check_validation(d, error, "email")

    return [created.id, second.id]


def check_product(
    d: Driver,
    product: models.Product,
    name: str,
    description: str | None,
    metadata: dict[str, str | int | float | bool],
    *,
    interval: str | None = None,
) -> None:
    what = f"product {name!r}"
    d.instance(product, models.Product, what)
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
    customer = d.instance(value, models.CustomerIndividual, what)
    d.equal(customer.email, names.email, f"{what} email")
    d.equal(customer.name, names.customer, f"{what} name")
    d.equal(customer.external_id, names.external_id, f"{what} external_id")
    d.equal(customer.metadata, p.CUSTOMER_METADATA, f"{what} metadata")
    d.equal(customer.TYPE, "individual", f"{what} type")
    d.equal(customer.deleted_at, None, f"{what} deleted_at")
    check_address(d, customer.billing_address, dict(PARIS), what)
    if d.organization_id:
        d.equal(customer.organization_id, d.organization_id, f"{what} organization_id")


def check_address(d: Driver, address: object, sent: dict[str, object], what: str) -> None:
    d.check(address is not None, f"{what} billing_address is null")
    for key, value in sent.items():
        d.equal(getattr(address, key), value, f"{what} billing_address.{key}")


def check_validation(d: Driver, error: models.HTTPValidationError, field: str) -> None:
    d.equal(error.status_code, 422, "HTTPValidationError status_code")
    detail = error.data.detail or []
    d.check(len(detail) > 0, "422 body has an empty or missing 'detail' list")
    locs = [[str(part) for part in item.loc] for item in detail]
    d.check(any(field in loc for loc in locs), f"422 detail should name {field!r}; got {locs}")


if __name__ == "__main__":
    Driver(generation="0.32").run(main)
