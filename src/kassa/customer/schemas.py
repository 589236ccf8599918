from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, StringConstraints, model_validator

from kassa.kit.address import Address, AddressInput
from kassa.kit.schemas import (
    IDSchema,
    InputSchema,
    MetadataInput,
    MetadataOutput,
    Schema,
    TimestampedSchema,
    invalid,
)


class CustomerType(StrEnum):
    individual = "individual"
    team = "team"


class CustomerSortProperty(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    email = "email"
    email_desc = "-email"
    name = "name"
    name_desc = "-name"


CustomerName = Annotated[str, StringConstraints(max_length=256)]
ExternalID = Annotated[str, StringConstraints(min_length=1, max_length=256)]
TaxIDInput = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Locale = Annotated[
    str, StringConstraints(max_length=35, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
]


class CustomerCreate(InputSchema):
    """An individual (``email`` required) or a team (``type: team``)."""

    type: CustomerType = CustomerType.individual
    email: EmailStr | None = None
    name: CustomerName | None = None
    external_id: ExternalID | None = None
    billing_address: AddressInput | None = None
    tax_id: TaxIDInput | None = None
    locale: Locale | None = None
    organization_id: uuid.UUID | None = None
    owner: dict[str, Any] | None = None
    metadata: MetadataInput = Field(default_factory=dict)

    @model_validator(mode="after")
    def _email_for_individuals(self) -> CustomerCreate:
        if self.type == CustomerType.individual and self.email is None:
            raise invalid("email", "is required for an individual customer")
        return self


class CustomerUpdateExternalID(InputSchema):
    email: EmailStr | None = None
    name: CustomerName | None = None
    billing_address: AddressInput | None = None
    tax_id: TaxIDInput | None = None
    locale: Locale | None = None
    metadata: MetadataInput | None = None


class CustomerUpdate(CustomerUpdateExternalID):
    external_id: ExternalID | None = None
    type: CustomerType | None = None


class Customer(IDSchema, TimestampedSchema):
    metadata: MetadataOutput
    external_id: str | None
    email: str | None
    email_verified: bool
    type: Literal["individual", "team"]
    name: str | None
    billing_name: str | None
    billing_address: Address | None
    tax_id: tuple[str, str] | None
    locale: str | None
    organization_id: uuid.UUID
    default_payment_method_id: uuid.UUID | None = None
    deleted_at: datetime | None
    first_user_event_at: datetime | None = None
    avatar_url: str | None = None


class CustomerListFilters(Schema):
    organization_id: list[uuid.UUID] | None = None
    email: str | None = None
    query: str | None = None
    active: bool | None = None
    metadata: dict[str, list[str]] = Field(default_factory=dict)
