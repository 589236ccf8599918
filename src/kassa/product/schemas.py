from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from kassa.kit.money import Amount, Currency, PositiveAmount
from kassa.kit.schemas import (
    IDSchema,
    InputSchema,
    MetadataInput,
    MetadataOutput,
    Schema,
    TimestampedSchema,
    invalid,
)


class ProductVisibility(StrEnum):
    draft = "draft"
    private = "private"
    public = "public"


class RecurringInterval(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    year = "year"


class TaxBehaviorOption(StrEnum):
    location = "location"
    inclusive = "inclusive"
    exclusive = "exclusive"


class ProductSortProperty(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    name = "name"
    name_desc = "-name"
    price_amount_type = "price_amount_type"
    price_amount_type_desc = "-price_amount_type"
    price_amount = "price_amount"
    price_amount_desc = "-price_amount"


ProductName = Annotated[str, StringConstraints(min_length=3, max_length=64)]
RecurringCount = Annotated[int, Field(ge=1, le=999)]
TrialCount = Annotated[int, Field(ge=1, le=1000)]


class _PriceCreateBase(InputSchema):
    price_currency: Currency = Field(default="usd", description="ISO 4217 code, lower case.")
    tax_behavior: TaxBehaviorOption | None = None


class ProductPriceFixedCreate(_PriceCreateBase):
    amount_type: Literal["fixed"]
    price_amount: Amount = Field(description="The price in minor units (cents).")


class ProductPriceCustomCreate(_PriceCreateBase):
    """Pay what you want: the customer picks an amount of at least ``minimum_amount``."""

    amount_type: Literal["custom"]
    minimum_amount: Amount = 50
    maximum_amount: PositiveAmount | None = None
    preset_amount: Amount | None = None

    @model_validator(mode="after")
    def _bounds(self) -> ProductPriceCustomCreate:
        if self.maximum_amount is not None and self.maximum_amount < self.minimum_amount:
            raise invalid("maximum_amount", "must be at least minimum_amount", self.maximum_amount)
        if self.preset_amount is not None:
            if self.preset_amount < self.minimum_amount:
                raise invalid(
                    "preset_amount", "must be at least minimum_amount", self.preset_amount
                )
            if self.maximum_amount is not None and self.preset_amount > self.maximum_amount:
                raise invalid("preset_amount", "must be at most maximum_amount", self.preset_amount)
        return self


class ProductPriceFreeCreate(_PriceCreateBase):
    """A free price (Kassa accepts it as in earlier API versions; it is a fixed price of 0)."""

    amount_type: Literal["free"]


ProductPriceCreate = Annotated[
    ProductPriceFixedCreate | ProductPriceCustomCreate | ProductPriceFreeCreate,
    Field(discriminator="amount_type"),
]


class ExistingProductPrice(InputSchema):
    id: uuid.UUID


PriceList = Annotated[list[ProductPriceCreate], Field(min_length=1, max_length=20)]


def _check_trial(trial_interval: Any, trial_interval_count: Any) -> None:
    if trial_interval is not None and trial_interval_count is None:
        raise invalid("trial_interval_count", "is required with trial_interval")
    if trial_interval is None and trial_interval_count is not None:
        raise invalid("trial_interval", "is required with trial_interval_count")


class ProductCreate(InputSchema):
    """A one-time product (no ``recurring_interval``) or a recurring one."""

    name: ProductName
    description: str | None = Field(default=None, max_length=10_000)
    visibility: ProductVisibility = ProductVisibility.public
    prices: PriceList
    medias: list[uuid.UUID] | None = None
    attached_custom_fields: list[dict[str, Any]] = Field(default_factory=list)
    organization_id: uuid.UUID | None = None
    metadata: MetadataInput = Field(default_factory=dict)
    recurring_interval: RecurringInterval | None = None
    recurring_interval_count: RecurringCount | None = None
    trial_interval: RecurringInterval | None = None
    trial_interval_count: TrialCount | None = None

    @model_validator(mode="after")
    def _recurrence(self) -> ProductCreate:
        if self.recurring_interval is None:
            if self.recurring_interval_count is not None:
                raise invalid("recurring_interval_count", "requires recurring_interval to be set")
            if self.trial_interval is not None or self.trial_interval_count is not None:
                raise invalid("trial_interval", "Only recurring products can have a trial")
        elif self.recurring_interval_count is None:
            self.recurring_interval_count = 1
        _check_trial(self.trial_interval, self.trial_interval_count)
        return self


class ProductUpdate(InputSchema):
    name: ProductName | None = None
    description: str | None = Field(default=None, max_length=10_000)
    visibility: ProductVisibility | None = None
    is_archived: bool | None = None
    recurring_interval: RecurringInterval | None = None
    recurring_interval_count: RecurringCount | None = None
    trial_interval: RecurringInterval | None = None
    trial_interval_count: TrialCount | None = None
    prices: (
        Annotated[
            list[ExistingProductPrice | ProductPriceCreate], Field(min_length=1, max_length=20)
        ]
        | None
    ) = None
    medias: list[uuid.UUID] | None = None
    attached_custom_fields: list[dict[str, Any]] | None = None
    metadata: MetadataInput | None = None


class _PriceBase(IDSchema, TimestampedSchema):
    source: Literal["catalog", "ad_hoc"]
    price_currency: str
    tax_behavior: TaxBehaviorOption | None
    is_archived: bool
    product_id: uuid.UUID


class ProductPriceFixed(_PriceBase):
    amount_type: Literal["fixed"]
    price_amount: int


class ProductPriceCustom(_PriceBase):
    amount_type: Literal["custom"]
    minimum_amount: int
    maximum_amount: int | None
    preset_amount: int | None


ProductPrice = Annotated[ProductPriceFixed | ProductPriceCustom, Field(discriminator="amount_type")]


class Product(IDSchema, TimestampedSchema):
    trial_interval: RecurringInterval | None
    trial_interval_count: int | None
    name: str
    description: str | None
    visibility: ProductVisibility
    recurring_interval: RecurringInterval | None
    recurring_interval_count: int | None
    meter_interval: RecurringInterval | None = None
    meter_interval_count: int | None = None
    is_recurring: bool
    is_archived: bool
    organization_id: uuid.UUID
    metadata: MetadataOutput = Field(validation_alias="user_metadata")
    is_deletable: bool = Field(
        description="Whether the product can be permanently deleted: not once an order, "
        "subscription or discount refers to it."
    )
    prices: list[ProductPrice]
    benefits: list[dict[str, Any]] = Field(default_factory=list)
    medias: list[dict[str, Any]] = Field(default_factory=list)
    attached_custom_fields: list[dict[str, Any]] = Field(default_factory=list)


class ProductListFilters(Schema):
    id: list[uuid.UUID] | None = None
    organization_id: list[uuid.UUID] | None = None
    query: str | None = None
    is_archived: bool | None = None
    is_recurring: bool | None = None
    benefit_id: list[uuid.UUID] | None = None
    visibility: list[ProductVisibility] | None = None
    metadata: dict[str, list[str]] = Field(default_factory=dict)
