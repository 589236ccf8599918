from __future__ import annotations

from typing import Any

from kassa.discount.schemas import (
    CheckoutDiscountFixedOnceForeverDuration,
    CheckoutDiscountFixedRepeatDuration,
    CheckoutDiscountPercentageOnceForeverDuration,
    CheckoutDiscountPercentageRepeatDuration,
    CheckoutDiscountSchema,
    DiscountFixedOnceForeverDuration,
    DiscountFixedRepeatDuration,
    DiscountPercentageOnceForeverDuration,
    DiscountPercentageRepeatDuration,
    DiscountProduct,
    DiscountSchema,
    variant_tag,
)
from kassa.models import Discount as DiscountModel
from kassa.product.serialize import product_schema

_DISCOUNT_VARIANTS: dict[str, type[DiscountSchema]] = {
    "fixed.once_forever": DiscountFixedOnceForeverDuration,
    "fixed.repeat": DiscountFixedRepeatDuration,
    "percentage.once_forever": DiscountPercentageOnceForeverDuration,
    "percentage.repeat": DiscountPercentageRepeatDuration,
}
_CHECKOUT_VARIANTS: dict[str, type[CheckoutDiscountSchema]] = {
    "fixed.once_forever": CheckoutDiscountFixedOnceForeverDuration,
    "fixed.repeat": CheckoutDiscountFixedRepeatDuration,
    "percentage.once_forever": CheckoutDiscountPercentageOnceForeverDuration,
    "percentage.repeat": CheckoutDiscountPercentageRepeatDuration,
}


def _terms(discount: DiscountModel) -> dict[str, Any]:
    """What the discount takes off, and for how long."""
    terms: dict[str, Any] = {
        "id": discount.id,
        "name": discount.name,
        "code": discount.code,
        "type": discount.type,
        "duration": discount.duration,
    }
    if discount.duration == "repeating":
        terms["duration_in_months"] = discount.duration_in_months
    if discount.type == "fixed":
        terms["amount"] = discount.amount
        terms["currency"] = discount.currency
        terms["amounts"] = dict(discount.amounts or {})
    else:
        terms["basis_points"] = discount.basis_points
    return terms


def _tag(discount: DiscountModel) -> str:
    tag = variant_tag(discount)
    assert tag is not None
    return tag


def discount_schema(discount: DiscountModel) -> DiscountSchema:
    """The contract's ``Discount``: one of its four shapes, with the restricted products."""
    data = _terms(discount) | {
        "created_at": discount.created_at,
        "modified_at": discount.modified_at,
        "metadata": discount.user_metadata,
        "starts_at": discount.starts_at,
        "ends_at": discount.ends_at,
        "max_redemptions": discount.max_redemptions,
        "max_redemptions_per_customer": discount.max_redemptions_per_customer,
        "redemptions_count": discount.redemptions_count,
        "organization_id": discount.organization_id,
        "products": [
            DiscountProduct.model_validate(
                product_schema(product, is_deletable=False), from_attributes=True
            )
            for product in discount.products
        ],
    }
    return _DISCOUNT_VARIANTS[_tag(discount)].model_validate(data)


def checkout_discount_schema(discount: DiscountModel) -> CheckoutDiscountSchema:
    """The contract's ``CheckoutDiscount*``: the discount as a checkout shows it."""
    return _CHECKOUT_VARIANTS[_tag(discount)].model_validate(_terms(discount))


def discount_base_data(discount: DiscountModel) -> dict[str, Any]:
    """The discount as embedded in orders and checkout links (the contract's ``Discount*Base``
    shapes): everything but its products."""
    data: dict[str, Any] = discount_schema(discount).model_dump(mode="json", exclude={"products"})
    return data
