"""Discounts through `polar-sdk` 1.0.x (`polar.v2026_10`): create, get, list, update, delete.

Run by the 1.0 SDK environment's interpreter with KASSA_URL and KASSA_TOKEN
(and optionally KASSA_ORGANIZATION_ID) set. Uses only the SDK's typed API.
The same scenario, with the same values, is in discounts_v032.py.
"""

from __future__ import annotations

from typing import Any

import _payloads as p
from _driver import Driver
from polar.v2026_10 import Polar
from polar.v2026_10.errors import HTTPValidationError, ResourceNotFound
from polar.v2026_10.inputs import DiscountFixedCreate, DiscountPercentageCreate
from polar.v2026_10.outputs import (
    DiscountFixedOnceForeverDuration,
    DiscountFixedRepeatDuration,
    DiscountPercentageOnceForeverDuration,
    DiscountPercentageRepeatDuration,
)

BASIS_POINTS = 2550
UPDATED_BASIS_POINTS = 3000
FIXED_AMOUNT = 500
MONTHS = 3
MAX_REDEMPTIONS = 10
METADATA: dict[str, str | int | float | bool] = {"campaign": "compat", "wave": 1}

PERCENTAGE_TYPES = (DiscountPercentageOnceForeverDuration, DiscountPercentageRepeatDuration)
FIXED_TYPES = (DiscountFixedOnceForeverDuration, DiscountFixedRepeatDuration)


def main(d: Driver) -> dict[str, Any]:
    with Polar(d.token, base_url=d.base_url, timeout=30.0) as polar:
        polar._client._client.event_hooks["response"].append(d.on_response)
        return {"discounts": discounts(d, polar, p.Names(d.run_id))}


def percentage_request(code: str, product_id: str) -> DiscountPercentageCreate:
    return {
        "type": "percentage",
        "name": "Compat percentage",
        "basis_points": BASIS_POINTS,
        "duration": "repeating",
        "duration_in_months": MONTHS,
        "code": code,
        "max_redemptions": MAX_REDEMPTIONS,
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2031-01-01T00:00:00Z",
        "products": [product_id],
        "metadata": dict(METADATA),
    }


def fixed_request() -> DiscountFixedCreate:
    return {
        "type": "fixed",
        "name": "Compat fixed",
        "amount": FIXED_AMOUNT,
        "currency": "usd",
        "duration": "once",
    }


def discounts(d: Driver, polar: Polar, names: p.Names) -> list[str]:
    code = f"C{d.run_id}".upper()
    with d.step("products.create for a product restriction"):
        product = polar.products.create(
            name=names.one_time,
            prices=[{"amount_type": "fixed", "price_amount": 1000, "price_currency": "usd"}],
        )

    with d.step("discounts.create percentage, repeating, restricted (201)"):
        percent = polar.discounts.create(**percentage_request(code, product.id))
        d.check(isinstance(percent, PERCENTAGE_TYPES), f"percentage discount: {type(percent)}")
        d.equal(percent.type, "percentage", "type")
        d.equal(percent.basis_points, BASIS_POINTS, "basis_points")
        d.equal(percent.duration, "repeating", "duration")
        d.equal(percent.code, code, "code")
        d.equal(percent.max_redemptions, MAX_REDEMPTIONS, "max_redemptions")
        d.equal(percent.redemptions_count, 0, "redemptions_count")
        d.equal(percent.metadata, METADATA, "metadata")
        d.equal([x.id for x in percent.products], [product.id], "restricted product ids")
        d.equal(percent.products[0].name, names.one_time, "restricted product name")
        d.check(percent.starts_at is not None, "starts_at is served")
        if isinstance(percent, DiscountPercentageRepeatDuration):
            d.equal(percent.duration_in_months, MONTHS, "duration_in_months")
        if d.organization_id:
            d.equal(percent.organization_id, d.organization_id, "organization_id")

    with d.step("discounts.create fixed once (201)"):
        fixed = polar.discounts.create(**fixed_request())
        d.check(isinstance(fixed, FIXED_TYPES), f"fixed discount: {type(fixed)}")
        d.equal((fixed.type, fixed.duration), ("fixed", "once"), "type and duration")
        d.equal((fixed.amount, fixed.currency), (FIXED_AMOUNT, "usd"), "amount and currency")
        d.equal(fixed.amounts, {"usd": FIXED_AMOUNT}, "amounts")
        d.equal(fixed.code, None, "code")

    with d.step("discounts.get by id"):
        fetched = polar.discounts.get(percent.id)
        d.equal(fetched.id, percent.id, "fetched id")
        d.equal(fetched.code, code, "fetched code")

    with d.step("discounts.list paginated (limit=1) and by query"):
        expected = [fixed.id, percent.id]  # -created_at
        seen: list[str] = []
        for page in (1, 2):
            listed = polar.discounts.list(page=page, limit=1, sorting=["-created_at"])
            d.equal(listed.pagination.total_count, 2, f"page {page} total_count")
            d.equal(listed.pagination.max_page, 2, f"page {page} max_page")
            seen.extend(item.id for item in listed.items)
        d.equal(seen, expected, "discount ids over pages 1..2")
        walked = [item.id for item in polar.discounts.iter_list(limit=1)]
        d.equal(walked, expected, "discount ids from discounts.iter_list(limit=1)")
        by_code = polar.discounts.list(query=code.lower())
        d.equal([item.id for item in by_code.items], [percent.id], "list(query=code)")
        by_name = polar.discounts.list(sorting=["name"])
        d.equal([item.id for item in by_name.items], expected, "list(sorting=['name'])")

    with d.step("discounts.update name, basis_points, code, products"):
        updated = polar.discounts.update(
            percent.id,
            name="Compat renamed",
            basis_points=UPDATED_BASIS_POINTS,
            code=None,
            products=[],
        )
        d.equal(updated.name, "Compat renamed", "updated name")
        d.equal(getattr(updated, "basis_points", None), UPDATED_BASIS_POINTS, "basis_points")
        d.equal(updated.code, None, "code cleared")
        d.equal(updated.products, [], "products cleared")
        d.check(updated.modified_at is not None, "modified_at is set")

    with d.step("discounts.create invalid body raises HTTPValidationError"):
        bad = {**percentage_request(code, product.id), "basis_points": 0}
        error = d.raises(HTTPValidationError, lambda: polar.discounts.create(**bad), "create")
        check_validation(d, error, "basis_points")
        twice = {**fixed_request(), "code": code}
        polar.discounts.update(fixed.id, code=code)
        error = d.raises(HTTPValidationError, lambda: polar.discounts.create(**twice), "code")
        check_validation(d, error, "code")

    with d.step("discounts.delete (204), then get raises ResourceNotFound"):
        d.equal(polar.discounts.delete(fixed.id), None, "delete returns None")
        error = d.raises(ResourceNotFound, lambda: polar.discounts.get(fixed.id), "get")
        d.equal(error.status_code, 404, "ResourceNotFound status_code")
        remaining = [item.id for item in polar.discounts.list().items]
        d.equal(remaining, [percent.id], "ids listed after delete")
        d.raises(ResourceNotFound, lambda: polar.discounts.delete(fixed.id), "delete again")

    return [percent.id, fixed.id]


def check_validation(d: Driver, error: HTTPValidationError, field: str) -> None:
    d.equal(error.status_code, 422, "HTTPValidationError status_code")
    detail = error.error.detail or []
    locs = [[str(part) for part in item.loc] for item in detail]
    d.check(any(field in loc for loc in locs), f"422 detail should name {field!r}; got {locs}")


if __name__ == "__main__":
    Driver(generation="1.0").run(main)
