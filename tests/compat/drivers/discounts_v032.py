"""Discounts through `polar-sdk` 0.32.0 (`polar_sdk`): create, get, list, update, delete.

Run by the 0.32 SDK environment's interpreter with KASSA_URL and KASSA_TOKEN
(and optionally KASSA_ORGANIZATION_ID) set. Uses only the SDK's typed API.
The same scenario, with the same values, is in discounts_v1.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import _payloads as p
import httpx
from _driver import Driver
from polar_sdk import Polar, models

BASIS_POINTS = 2550
UPDATED_BASIS_POINTS = 3000
FIXED_AMOUNT = 500
MONTHS = 3
MAX_REDEMPTIONS = 10
METADATA: dict[str, str | int | float | bool] = {"campaign": "compat", "wave": 1}


def main(d: Driver) -> dict[str, Any]:
    http = httpx.Client(timeout=30.0, event_hooks={"response": [d.on_response]})
    with http, Polar(access_token=d.token, server_url=d.base_url, client=http) as polar:
        return {"discounts": discounts(d, polar, p.Names(d.run_id))}


def percentage_request(code: str, product_id: str) -> models.DiscountPercentageCreateTypedDict:
    return {
        "type": "percentage",
        "name": "Compat percentage",
        "basis_points": BASIS_POINTS,
        "duration": models.DiscountDuration.REPEATING,
        "duration_in_months": MONTHS,
        "code": code,
        "max_redemptions": MAX_REDEMPTIONS,
        "starts_at": datetime(2030, 1, 1, tzinfo=UTC),
        "ends_at": datetime(2031, 1, 1, tzinfo=UTC),
        "products": [product_id],
        "metadata": dict(METADATA),
    }


def fixed_request() -> models.DiscountFixedCreateTypedDict:
    return {
        "type": "fixed",
        "name": "Compat fixed",
        "amount": FIXED_AMOUNT,
        "currency": models.PresentmentCurrency.USD,
        "duration": models.DiscountDuration.ONCE,
    }


def discounts(d: Driver, polar: Polar, names: p.Names) -> list[str]:
    code = f"C{d.run_id}".upper()
    with d.step("products.create for a product restriction"):
        product = polar.products.create(
            request={
                "name": names.one_time,
                "prices": [
                    {
                        "amount_type": "fixed",
                        "price_amount": 1000,
                        "price_currency": models.PresentmentCurrency.USD,
                    }
                ],
            }
        )

    with d.step("discounts.create percentage, repeating, restricted (201)"):
        percent = polar.discounts.create(request=percentage_request(code, product.id))
        percent = d.instance(percent, models.DiscountPercentageRepeatDuration, "percentage")
        d.equal(percent.basis_points, BASIS_POINTS, "basis_points")
        d.equal(percent.duration, "repeating", "duration")
        d.equal(percent.duration_in_months, MONTHS, "duration_in_months")
        d.equal(percent.code, code, "code")
        d.equal(percent.max_redemptions, MAX_REDEMPTIONS, "max_redemptions")
        d.equal(percent.redemptions_count, 0, "redemptions_count")
        d.equal(percent.metadata, METADATA, "metadata")
        d.equal(percent.starts_at, datetime(2030, 1, 1, tzinfo=UTC), "starts_at")
        d.equal([x.id for x in percent.products], [product.id], "restricted product ids")
        d.equal(percent.products[0].name, names.one_time, "restricted product name")
        if d.organization_id:
            d.equal(percent.organization_id, d.organization_id, "organization_id")

    with d.step("discounts.create fixed once (201)"):
        fixed = polar.discounts.create(request=fixed_request())
        fixed = d.instance(fixed, models.DiscountFixedOnceForeverDuration, "fixed discount")
        d.equal((fixed.type, fixed.duration), ("fixed", "once"), "type and duration")
        d.equal(fixed.amounts, {"usd": FIXED_AMOUNT}, "amounts")
        d.equal(fixed.code, None, "code")

    with d.step("discounts.get by id"):
        fetched = polar.discounts.get(id=percent.id)
        d.equal(fetched.id, percent.id, "fetched id")
        d.equal(fetched.code, code, "fetched code")

    with d.step("discounts.list paginated (limit=1) and by query"):
        expected = [fixed.id, percent.id]  # -created_at
        seen: list[str] = []
        page = polar.discounts.list(limit=1, sorting=[models.DiscountSortProperty.MINUS_CREATED_AT])
        while page is not None:
            d.equal(page.result.pagination.total_count, 2, "pagination.total_count")
            d.equal(page.result.pagination.max_page, 2, "pagination.max_page")
            seen.extend(item.id for item in page.result.items)
            d.check(len(seen) <= 2, f"next() kept returning pages: ids so far {seen}")
            page = page.next()
        d.equal(seen, expected, "discount ids walked with DiscountsListResponse.next()")
        by_code = polar.discounts.list(query=code.lower())
        d.equal([x.id for x in by_code.result.items] if by_code else None, [percent.id], "query")
        by_name = polar.discounts.list(sorting=[models.DiscountSortProperty.NAME])
        d.equal([x.id for x in by_name.result.items] if by_name else None, expected, "by name")

    with d.step("discounts.update name, basis_points, code, products"):
        updated = polar.discounts.update(
            id=percent.id,
            discount_update={
                "name": "Compat renamed",
                "basis_points": UPDATED_BASIS_POINTS,
                "code": None,
                "products": [],
            },
        )
        d.equal(updated.name, "Compat renamed", "updated name")
        d.equal(getattr(updated, "basis_points", None), UPDATED_BASIS_POINTS, "basis_points")
        d.equal(updated.code, None, "code cleared")
        d.equal(updated.products, [], "products cleared")
        d.check(updated.modified_at is not None, "modified_at is set")

    with d.step("discounts.create invalid body raises HTTPValidationError"):
        bad = {**percentage_request(code, product.id), "basis_points": 0}
        error = d.raises(
            models.HTTPValidationError, lambda: polar.discounts.create(request=bad), "create"
        )
        check_validation(d, error, "basis_points")
        polar.discounts.update(id=fixed.id, discount_update={"code": code})
        twice = {**fixed_request(), "code": code}
        error = d.raises(
            models.HTTPValidationError, lambda: polar.discounts.create(request=twice), "code"
        )
        check_validation(d, error, "code")

    with d.step("discounts.delete (204), then get raises ResourceNotFound"):
        polar.discounts.delete(id=fixed.id)
        error = d.raises(models.ResourceNotFound, lambda: polar.discounts.get(id=fixed.id), "get")
        d.equal(error.status_code, 404, "ResourceNotFound status_code")
        remaining = polar.discounts.list()
        ids = [x.id for x in remaining.result.items] if remaining else None
        d.equal(ids, [percent.id], "ids listed after delete")
        d.raises(
            models.ResourceNotFound, lambda: polar.discounts.delete(id=fixed.id), "delete again"
        )

    return [percent.id, fixed.id]


def check_validation(d: Driver, error: models.HTTPValidationError, field: str) -> None:
    d.equal(error.status_code, 422, "HTTPValidationError status_code")
    detail = error.data.detail or []
    locs = [[str(part) for part in item.loc] for item in detail]
    d.check(any(field in loc for loc in locs), f"422 detail should name {field!r}; got {locs}")


if __name__ == "__main__":
    Driver(generation="0.32").run(main)
