"""Discount request and response bodies, named and shaped as in the contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    StrictInt,
    StringConstraints,
    Tag,
)
from typing_extensions import TypeAliasType

from kassa.kit.money import Amount, Currency
from kassa.kit.schemas import (
    IDSchema,
    InputSchema,
    MetadataInput,
    MetadataOutput,
    Schema,
    TimestampedSchema,
    invalid,
)
from kassa.product.schemas import ProductVisibility, RecurringInterval


class DiscountType(StrEnum):
    fixed = "fixed"
    percentage = "percentage"


class DiscountDuration(StrEnum):
    once = "once"
    forever = "forever"
    repeating = "repeating"


class DiscountSortProperty(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    name = "name"
    name_desc = "-name"
    code = "code"
    code_desc = "-code"
    redemptions_count = "redemptions_count"
    redemptions_count_desc = "-redemptions_count"
    ends_at = "ends_at"
    ends_at_desc = "-ends_at"


# Input field types


def _empty_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _check_code(value: str | None) -> str | None:
    if value is not None and not value.isalnum():
        raise ValueError("Code must contain only alphanumeric characters.")
    return value


def _utc(value: datetime) -> datetime:
    """Timestamps are stored in UTC; one without an offset is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("Timestamp out of range.") from error


def _distinct_currencies(value: Any) -> Any:
    if isinstance(value, dict):
        seen: set[str] = set()
        for key in value:
            lowered = key.strip().lower() if isinstance(key, str) else key
            if lowered in seen:
                raise ValueError(f"Currency {key!r} is given twice.")
            seen.add(lowered)
    return value


DiscountName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256),
    Field(
        description="Name of the discount. Will be displayed to the customer when the "
        "discount is applied."
    ),
]
DiscountCode = Annotated[
    Annotated[str, StringConstraints(min_length=3, max_length=256)] | None,
    BeforeValidator(_empty_is_none),
    AfterValidator(_check_code),
    Field(
        description="Code customers can use to apply the discount during checkout. Must be "
        "between 3 and 256 characters long and contain only alphanumeric characters. "
        "Codes are unique per organization and matched case-insensitively. If not "
        "provided, the discount can only be applied via the API."
    ),
]
Timestamp = Annotated[datetime, AfterValidator(_utc)]
MaxRedemptions = Annotated[StrictInt, Field(ge=1, le=2_147_483_647)]
DurationInMonths = Annotated[
    StrictInt,
    Field(
        ge=1,
        le=999,
        description="Number of months the discount should be applied. Required when "
        "`duration` is `repeating`, refused otherwise.",
    ),
]
BasisPoints = Annotated[
    StrictInt,
    Field(
        ge=1,
        le=10_000,
        description="Discount percentage in basis points (1/100th of a percent): 2550 is 25.5%.",
    ),
]
AmountsMap = Annotated[
    dict[Currency, Amount],
    BeforeValidator(_distinct_currencies),
    Field(
        min_length=1,
        description="Map of currency to fixed amount (minor units) to discount from the total.",
    ),
]
# Shown as deprecated in OpenAPI, as in the contract (pydantic's own flag would warn on every
# attribute access).
_DEPRECATED: dict[str, Any] = {"deprecated": True}
ProductIDs = Annotated[
    list[uuid.UUID],
    Field(description="List of product IDs the discount can be applied to (none: all)."),
]


class _DiscountCreateBase(InputSchema):
    metadata: MetadataInput = Field(default_factory=dict)
    name: DiscountName
    code: DiscountCode = None
    starts_at: Timestamp | None = Field(
        default=None, description="Optional timestamp after which the discount is redeemable."
    )
    ends_at: Timestamp | None = Field(
        default=None,
        description="Optional timestamp after which the discount is no longer redeemable.",
    )
    max_redemptions: MaxRedemptions | None = None
    max_redemptions_per_customer: MaxRedemptions | None = None
    products: ProductIDs | None = None
    organization_id: uuid.UUID | None = None
    duration: DiscountDuration
    duration_in_months: DurationInMonths | None = None


class DiscountFixedCreate(_DiscountCreateBase):
    """A fixed amount off: ``amounts`` per currency, or the older ``amount`` + ``currency``."""

    type: Literal["fixed"] = "fixed"
    amount: Amount | None = Field(default=None, json_schema_extra=_DEPRECATED)
    currency: Currency | None = Field(default="usd", json_schema_extra=_DEPRECATED)
    amounts: AmountsMap | None = None


class DiscountPercentageCreate(_DiscountCreateBase):
    type: Literal["percentage"] = "percentage"
    basis_points: BasisPoints


def _create_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type")
        if kind is None and "type" not in value:
            return "percentage" if "basis_points" in value else "fixed"
        return kind if isinstance(kind, str) else None
    kind = getattr(value, "type", None)
    return str(kind) if kind is not None else None


def _known_type(value: Any) -> Any:
    if isinstance(value, dict) and "type" in value and value["type"] not in ("fixed", "percentage"):
        raise invalid("type", "Input should be 'fixed' or 'percentage'", value["type"])
    return value


DiscountCreate = Annotated[
    Annotated[DiscountFixedCreate, Tag("fixed")]
    | Annotated[DiscountPercentageCreate, Tag("percentage")],
    Discriminator(_create_tag),
    BeforeValidator(_known_type),
]


class DiscountUpdate(InputSchema):
    """Fields left out stay as they are; ``code``, ``starts_at``, ``ends_at`` and the
    redemption limits can be cleared with ``null``; ``products`` replaces the list."""

    metadata: MetadataInput | None = None
    name: DiscountName | None = None
    code: DiscountCode = None
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    max_redemptions: MaxRedemptions | None = None
    max_redemptions_per_customer: MaxRedemptions | None = None
    duration: DiscountDuration | None = None
    duration_in_months: DurationInMonths | None = None
    type: DiscountType | None = None
    amount: Amount | None = Field(default=None, json_schema_extra=_DEPRECATED)
    currency: Currency | None = Field(default=None, json_schema_extra=_DEPRECATED)
    amounts: AmountsMap | None = None
    basis_points: BasisPoints | None = None
    products: ProductIDs | None = None


# Responses


class DiscountProduct(IDSchema, TimestampedSchema):
    """A product that a discount can be applied to."""

    metadata: MetadataOutput
    trial_interval: RecurringInterval | None
    trial_interval_count: int | None
    name: str
    description: str | None
    visibility: ProductVisibility
    recurring_interval: RecurringInterval | None
    recurring_interval_count: int | None
    meter_interval: RecurringInterval | None
    meter_interval_count: int | None
    is_recurring: bool
    is_archived: bool
    organization_id: uuid.UUID


class _FixedFields(Schema):
    type: Literal["fixed"]
    amount: int
    currency: str
    amounts: dict[str, int] = Field(
        description="Map of currency to fixed amount to discount from the total."
    )


class _PercentageFields(Schema):
    type: Literal["percentage"]
    basis_points: int = Field(
        description="Discount percentage in basis points. A basis point is 1/100th of a "
        "percent. For example, 1000 basis points equals a 10% discount."
    )


class _OnceForeverFields(Schema):
    duration: Literal["once", "forever"]


class _RepeatFields(Schema):
    duration: Literal["repeating"]
    duration_in_months: int


class _DiscountBase(IDSchema, TimestampedSchema):
    metadata: MetadataOutput
    name: str
    code: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    max_redemptions: int | None
    max_redemptions_per_customer: int | None
    redemptions_count: int
    organization_id: uuid.UUID
    products: list[DiscountProduct]


class DiscountFixedOnceForeverDuration(_DiscountBase, _FixedFields, _OnceForeverFields):
    """A fixed amount discount that is applied once or forever."""


class DiscountFixedRepeatDuration(_DiscountBase, _FixedFields, _RepeatFields):
    """A fixed amount discount applied on every invoice for a number of months."""


class DiscountPercentageOnceForeverDuration(_DiscountBase, _PercentageFields, _OnceForeverFields):
    """A percentage discount that is applied once or forever."""


class DiscountPercentageRepeatDuration(_DiscountBase, _PercentageFields, _RepeatFields):
    """A percentage discount applied on every invoice for a number of months."""


def variant_tag(value: Any) -> str | None:
    """``<type>.<once_forever|repeat>``: which of the four shapes a discount takes."""
    if isinstance(value, dict):
        kind, duration = value.get("type"), value.get("duration")
    else:
        kind, duration = getattr(value, "type", None), getattr(value, "duration", None)
    if kind is None or duration is None:
        return None
    return f"{kind}.{'repeat' if duration == 'repeating' else 'once_forever'}"


DiscountSchema = (
    DiscountFixedOnceForeverDuration
    | DiscountFixedRepeatDuration
    | DiscountPercentageOnceForeverDuration
    | DiscountPercentageRepeatDuration
)
# A named alias, so OpenAPI has a `Discount` schema and a `ListResource_Discount_`, as the
# contract does.
Discount = TypeAliasType(
    "Discount",
    Annotated[
        Annotated[DiscountFixedOnceForeverDuration, Tag("fixed.once_forever")]
        | Annotated[DiscountFixedRepeatDuration, Tag("fixed.repeat")]
        | Annotated[DiscountPercentageOnceForeverDuration, Tag("percentage.once_forever")]
        | Annotated[DiscountPercentageRepeatDuration, Tag("percentage.repeat")],
        Discriminator(variant_tag),
    ],
)


class _CheckoutDiscountBase(IDSchema):
    name: str
    code: str | None


class CheckoutDiscountFixedOnceForeverDuration(
    _CheckoutDiscountBase, _FixedFields, _OnceForeverFields
):
    pass


class CheckoutDiscountFixedRepeatDuration(_CheckoutDiscountBase, _FixedFields, _RepeatFields):
    pass


class CheckoutDiscountPercentageOnceForeverDuration(
    _CheckoutDiscountBase, _PercentageFields, _OnceForeverFields
):
    pass


class CheckoutDiscountPercentageRepeatDuration(
    _CheckoutDiscountBase, _PercentageFields, _RepeatFields
):
    pass


CheckoutDiscountSchema = (
    CheckoutDiscountFixedOnceForeverDuration
    | CheckoutDiscountFixedRepeatDuration
    | CheckoutDiscountPercentageOnceForeverDuration
    | CheckoutDiscountPercentageRepeatDuration
)


class DiscountListFilters(Schema):
    organization_id: list[uuid.UUID] | None = None
    query: str | None = None
