"""Checkout API shapes, per the contract (Checkout, CheckoutPublic, their create/update forms)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, StringConstraints, model_validator

from kassa.customer.schemas import CustomerName, ExternalID, Locale, TaxIDInput
from kassa.kit.address import Address, AddressInput
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
from kassa.product.schemas import ProductPrice, ProductVisibility, RecurringInterval


class CheckoutStatus(StrEnum):
    open = "open"
    expired = "expired"
    confirmed = "confirmed"
    succeeded = "succeeded"
    failed = "failed"


class CheckoutSortProperty(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    expires_at = "expires_at"
    expires_at_desc = "-expires_at"
    status = "status"
    status_desc = "-status"


class BillingAddressFieldMode(StrEnum):
    required = "required"
    optional = "optional"
    disabled = "disabled"


URL = Annotated[str, StringConstraints(min_length=1, max_length=2083, pattern=r"^https?://\S+$")]
Origin = Annotated[str, StringConstraints(max_length=256, pattern=r"^https?://[^/\s]+$")]
IPAddress = Annotated[str, StringConstraints(max_length=64)]
DiscountCode = Annotated[str, StringConstraints(min_length=1, max_length=256)]
TrialCount = Annotated[int, Field(ge=1, le=1000)]
Seats = Annotated[int, Field(ge=1, le=1000)]
CustomFieldData = Annotated[dict[str, Any], Field(max_length=50)]


class _CustomerFields(InputSchema):
    """What the customer (or the merchant, on their behalf) can fill in."""

    custom_field_data: CustomFieldData | None = None
    product_id: uuid.UUID | None = None
    product_price_id: uuid.UUID | None = None
    amount: Amount | None = None
    seats: Seats | None = None
    is_business_customer: bool | None = None
    customer_name: CustomerName | None = None
    customer_email: EmailStr | None = None
    customer_billing_name: CustomerName | None = None
    customer_billing_address: AddressInput | None = None
    customer_tax_id: TaxIDInput | None = None
    locale: Locale | None = None


class CheckoutCreate(InputSchema):
    """One of ``products`` (the first is selected), ``product_id`` or ``product_price_id``."""

    products: Annotated[list[uuid.UUID], Field(min_length=1, max_length=10)] | None = None
    product_id: uuid.UUID | None = None
    product_price_id: uuid.UUID | None = None
    prices: dict[str, Any] | None = None
    amount: Amount | None = None
    seats: Seats | None = None
    min_seats: Seats | None = None
    max_seats: Seats | None = None
    currency: Currency | None = None
    discount_id: uuid.UUID | None = None
    allow_discount_codes: bool = True
    require_billing_address: bool = False
    allow_trial: bool = True
    trial_interval: RecurringInterval | None = None
    trial_interval_count: TrialCount | None = None
    customer_id: uuid.UUID | None = None
    external_customer_id: ExternalID | None = None
    is_business_customer: bool = False
    customer_name: CustomerName | None = None
    customer_email: EmailStr | None = None
    customer_ip_address: IPAddress | None = None
    customer_billing_name: CustomerName | None = None
    customer_billing_address: AddressInput | None = None
    customer_tax_id: TaxIDInput | None = None
    customer_metadata: MetadataInput = Field(default_factory=dict)
    metadata: MetadataInput = Field(default_factory=dict)
    custom_field_data: CustomFieldData = Field(default_factory=dict)
    subscription_id: uuid.UUID | None = None
    success_url: URL | None = None
    return_url: URL | None = None
    embed_origin: Origin | None = None
    locale: Locale | None = None
    payment_processor: Literal["stripe"] | None = None

    @model_validator(mode="after")
    def _one_selection(self) -> CheckoutCreate:
        given = [
            name
            for name in ("products", "product_id", "product_price_id")
            if getattr(self, name) is not None
        ]
        if not given:
            raise invalid("products", "Give `products`, `product_id` or `product_price_id`.")
        if len(given) > 1:
            raise invalid(given[1], f"Give only one of `{given[0]}` and `{given[1]}`.")
        if self.prices:
            raise invalid("prices", "Ad-hoc prices are not supported by this server yet.")
        if self.subscription_id is not None:
            raise invalid("subscription_id", "Subscription upgrades are not supported yet.")
        if (self.trial_interval is None) != (self.trial_interval_count is None):
            raise invalid("trial_interval_count", "Set both trial_interval and its count.")
        return self

    @property
    def product_ids(self) -> list[uuid.UUID] | None:
        if self.products is not None:
            return list(dict.fromkeys(self.products))
        return [self.product_id] if self.product_id is not None else None


class CheckoutUpdate(_CustomerFields):
    """The merchant's update: the customer's fields plus the checkout's own settings."""

    metadata: MetadataInput | None = None
    customer_metadata: MetadataInput | None = None
    currency: Currency | None = None
    discount_id: uuid.UUID | None = None
    allow_discount_codes: bool | None = None
    require_billing_address: bool | None = None
    allow_trial: bool | None = None
    trial_interval: RecurringInterval | None = None
    trial_interval_count: TrialCount | None = None
    customer_ip_address: IPAddress | None = None
    success_url: URL | None = None
    return_url: URL | None = None
    embed_origin: Origin | None = None


class CheckoutUpdatePublic(_CustomerFields):
    """The customer's update from the checkout page (by client secret)."""

    payment_method_type: Annotated[str, StringConstraints(max_length=32)] | None = None
    discount_code: DiscountCode | None = None
    allow_trial: bool | None = None


class CheckoutConfirm(CheckoutUpdatePublic):
    """Confirming also takes the last changes; ``confirmation_token_id`` is the processor's
    payment-method token (the sandbox takes ids such as ``pm_card_visa``)."""

    confirmation_token_id: (
        Annotated[str, StringConstraints(min_length=1, max_length=256)] | None
    ) = None


class BillingAddressFields(Schema):
    country: BillingAddressFieldMode
    state: BillingAddressFieldMode
    city: BillingAddressFieldMode
    postal_code: BillingAddressFieldMode
    line1: BillingAddressFieldMode
    line2: BillingAddressFieldMode


class CheckoutProduct(IDSchema, TimestampedSchema):
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
    prices: list[ProductPrice]
    benefits: list[dict[str, Any]] = Field(default_factory=list)
    medias: list[dict[str, Any]] = Field(default_factory=list)


class CheckoutOrganization(IDSchema, TimestampedSchema):
    name: str
    slug: str
    avatar_url: str | None
    proration_behavior: Literal["invoice", "prorate", "next_period", "reset"] = "prorate"
    allow_customer_updates: bool = True


class _CheckoutBase(IDSchema, TimestampedSchema):
    custom_field_data: dict[str, Any]
    payment_processor: Literal["stripe"]
    status: CheckoutStatus
    client_secret: str
    url: str
    expires_at: datetime
    success_url: str
    return_url: str | None
    embed_origin: str | None
    amount: int
    seats: int | None
    min_seats: int | None = None
    max_seats: int | None = None
    # Not in the 2026-10 contract, but polar-sdk 1.0 requires them (unit-based pricing).
    units: int | None = None
    min_units: int | None = None
    max_units: int | None = None
    discount_amount: int
    net_amount: int
    tax_amount: int | None
    tax_behavior: Literal["inclusive", "exclusive"] | None
    total_amount: int
    currency: str
    allow_trial: bool | None
    active_trial_interval: RecurringInterval | None
    active_trial_interval_count: int | None
    trial_end: datetime | None
    organization_id: uuid.UUID
    product_id: uuid.UUID | None
    product_price_id: uuid.UUID | None
    discount_id: uuid.UUID | None
    allow_discount_codes: bool
    require_billing_address: bool
    is_discount_applicable: bool
    is_free_product_price: bool
    is_payment_required: bool
    is_payment_setup_required: bool
    is_payment_form_required: bool
    customer_id: uuid.UUID | None
    is_business_customer: bool
    customer_name: str | None
    customer_email: str | None
    customer_ip_address: str | None
    customer_billing_name: str | None
    customer_billing_address: Address | None
    customer_tax_id: str | None
    locale: str | None
    payment_method_type: str | None
    payment_processor_metadata: dict[str, str]
    billing_address_fields: BillingAddressFields
    products: list[CheckoutProduct]
    product: CheckoutProduct | None
    product_price: ProductPrice | None
    prices: dict[str, list[ProductPrice]] | None
    discount: dict[str, Any] | None
    attached_custom_fields: list[dict[str, Any]] | None


class Checkout(_CheckoutBase):
    trial_interval: RecurringInterval | None
    trial_interval_count: int | None
    metadata: MetadataOutput
    external_customer_id: str | None
    subscription_id: uuid.UUID | None
    customer_metadata: MetadataOutput


class CheckoutPublic(_CheckoutBase):
    organization: CheckoutOrganization


class CheckoutPublicConfirmed(CheckoutPublic):
    customer_session_token: str | None


class CheckoutListFilters(Schema):
    organization_id: list[uuid.UUID] | None = None
    product_id: list[uuid.UUID] | None = None
    customer_id: list[uuid.UUID] | None = None
    status: list[CheckoutStatus] | None = None
    query: str | None = None
