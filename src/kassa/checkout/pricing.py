"""A checkout's amounts: one function, called after every change, so they always agree."""

from __future__ import annotations

from kassa.kit.errors import ValidationFailed
from kassa.models import Checkout, ProductPrice


def is_free(price: ProductPrice) -> bool:
    if price.amount_type == "custom":
        return price.maximum_amount == 0
    return (price.price_amount or 0) == 0


def discount_applicable(price: ProductPrice) -> bool:
    """Discounts apply to fixed, non-zero prices (not to pay-what-you-want or free ones)."""
    return price.amount_type == "fixed" and not is_free(price)


def base_amount(price: ProductPrice, requested: int | None, loc: tuple[str, ...]) -> int:
    """The amount before discounts: the fixed price, or the customer's pay-what-you-want
    amount (the preset, else the minimum, when none is given) within the price's bounds."""
    if price.amount_type != "custom":
        return price.price_amount or 0
    minimum = price.minimum_amount or 0
    if requested is None:
        return price.preset_amount if price.preset_amount is not None else minimum
    if requested < minimum:
        raise ValidationFailed.field(loc, f"The amount must be at least {minimum}.", requested)
    if price.maximum_amount is not None and requested > price.maximum_amount:
        raise ValidationFailed.field(
            loc, f"The amount must be at most {price.maximum_amount}.", requested
        )
    return requested


def apply_amounts(checkout: Checkout, amount: int, discount_amount: int) -> None:
    discount_amount = max(0, min(discount_amount, amount))
    checkout.amount = amount
    checkout.discount_amount = discount_amount
    checkout.net_amount = amount - discount_amount
    # No tax calculator yet: tax is zero and the total is the net amount.
    checkout.tax_amount = 0
    checkout.total_amount = checkout.net_amount
