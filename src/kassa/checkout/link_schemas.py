"""Checkout link API shapes, per the contract."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from kassa.checkout.schemas import URL, Seats, TrialCount
from kassa.kit.schemas import (
    IDSchema,
    InputSchema,
    MetadataInput,
    MetadataOutput,
    TimestampedSchema,
    invalid,
)
from kassa.product.schemas import Product, RecurringInterval

Label = Annotated[str, StringConstraints(max_length=256)]


class CheckoutLinkSortProperty(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    label = "label"
    label_desc = "-label"
    success_url = "success_url"
    success_url_desc = "-success_url"
    allow_discount_codes = "allow_discount_codes"
    allow_discount_codes_desc = "-allow_discount_codes"


class _LinkSettings(InputSchema):
    trial_interval: RecurringInterval | None = None
    trial_interval_count: TrialCount | None = None
    label: Label | None = None
    discount_id: uuid.UUID | None = None
    seats: Seats | None = None
    success_url: URL | None = None
    return_url: URL | None = None


class CheckoutLinkCreate(_LinkSettings):
    """One of ``products``, ``product_id`` or ``product_price_id``."""

    payment_processor: Literal["stripe"]
    products: Annotated[list[uuid.UUID], Field(min_length=1, max_length=10)] | None = None
    product_id: uuid.UUID | None = None
    product_price_id: uuid.UUID | None = None
    allow_discount_codes: bool = True
    require_billing_address: bool = False
    metadata: MetadataInput = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_selection(self) -> CheckoutLinkCreate:
        given = [
            name
            for name in ("products", "product_id", "product_price_id")
            if getattr(self, name) is not None
        ]
        if not given:
            raise invalid("products", "Give `products`, `product_id` or `product_price_id`.")
        if len(given) > 1:
            raise invalid(given[1], f"Give only one of `{given[0]}` and `{given[1]}`.")
        return self


class CheckoutLinkUpdate(_LinkSettings):
    products: Annotated[list[uuid.UUID], Field(min_length=1, max_length=10)] | None = None
    allow_discount_codes: bool | None = None
    require_billing_address: bool | None = None
    metadata: MetadataInput | None = None


class CheckoutLink(IDSchema, TimestampedSchema):
    trial_interval: RecurringInterval | None
    trial_interval_count: int | None
    metadata: MetadataOutput
    payment_processor: Literal["stripe"]
    client_secret: str
    success_url: str | None
    return_url: str | None
    label: str | None
    allow_discount_codes: bool
    require_billing_address: bool
    discount_id: uuid.UUID | None
    seats: int | None
    organization_id: uuid.UUID
    products: list[Product]
    discount: dict[str, Any] | None
    url: str
