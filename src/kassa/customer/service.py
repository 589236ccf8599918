from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.customer.repository import CustomerRepository
from kassa.customer.schemas import (
    CustomerCreate,
    CustomerListFilters,
    CustomerType,
    CustomerUpdate,
    CustomerUpdateExternalID,
)
from kassa.customer.serialize import customer_schema
from kassa.customer.tax_id import InvalidTaxID, parse_tax_id
from kassa.kit import sql
from kassa.kit.address import AddressInput
from kassa.kit.clock import utc_now
from kassa.kit.errors import ResourceNotFound, ValidationFailed
from kassa.kit.pagination import PaginationParams
from kassa.models import Customer
from kassa.webhook import service as webhook_service
from kassa.webhook.schemas import WebhookEventType

_UNIQUE_FIELDS = {"uq_customers_org_email": "email", "uq_customers_org_external_id": "external_id"}


async def _emit(
    session: AsyncSession,
    event_type: WebhookEventType,
    customer: Customer,
    writes: sql.Writes | None = None,
) -> None:
    await webhook_service.emit(
        session,
        customer.organization_id,
        event_type,
        f"customer:{customer.id}",
        customer_schema(customer),
        writes,
    )


def _taken(field: str, value: Any) -> ValidationFailed:
    return ValidationFailed.field(
        ("body", field), f"A customer with this {field} already exists.", input_=value
    )


async def _flush(session: AsyncSession, values: dict[str, Any]) -> None:
    """Flush, turning a lost uniqueness race into the same 422 as the upfront check."""
    try:
        await session.flush()
    except IntegrityError as error:
        message = str(error.orig)
        for constraint, field in _UNIQUE_FIELDS.items():
            if constraint in message:
                raise _taken(field, values.get(field)) from error
        raise


def _tax_id(value: str | None, address: AddressInput | None) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    try:
        number, format_ = parse_tax_id(value, address.country if address else None)
    except InvalidTaxID as error:
        raise ValidationFailed.field(("body", "tax_id"), str(error), input_=value) from error
    return number, str(format_)


async def create_customer(
    session: AsyncSession, organization_id: uuid.UUID, body: CustomerCreate
) -> Customer:
    if body.owner is not None:
        raise ValidationFailed.field(
            ("body", "owner"), "Customer members are not supported by this server yet."
        )
    repository = CustomerRepository(session)
    if body.email is not None and await repository.email_taken(organization_id, body.email):
        raise _taken("email", body.email)
    if body.external_id is not None and await repository.external_id_taken(
        organization_id, body.external_id
    ):
        raise _taken("external_id", body.external_id)
    customer = new_customer(organization_id, body)
    session.add(customer)
    await _flush(session, body.model_dump())
    await announce_created(session, customer)
    return customer


def new_customer(organization_id: uuid.UUID, body: CustomerCreate) -> Customer:
    """The customer ``body`` describes, not yet stored (its tax id checked and normalized)."""
    tax_id, tax_id_format = _tax_id(body.tax_id, body.billing_address)
    return Customer(
        organization_id=organization_id,
        type=str(body.type),
        email=body.email,
        name=body.name,
        external_id=body.external_id,
        billing_address=body.billing_address.model_dump() if body.billing_address else None,
        tax_id=tax_id,
        tax_id_format=tax_id_format,
        locale=body.locale,
        user_metadata=dict(body.metadata),
    )


async def announce_created(
    session: AsyncSession, customer: Customer, writes: sql.Writes | None = None
) -> None:
    """``customer.created`` for a customer just stored (or stored with ``writes``)."""
    await _emit(session, WebhookEventType.customer_created, customer, writes)


async def list_customers(
    session: AsyncSession,
    organization_id: uuid.UUID,
    filters: CustomerListFilters,
    sorting: Sequence[str],
    params: PaginationParams,
) -> tuple[Sequence[Customer], int]:
    repository = CustomerRepository(session)
    return await repository.paginate(repository.filtered(organization_id, filters, sorting), params)


async def get_customer(
    session: AsyncSession, organization_id: uuid.UUID, customer_id: uuid.UUID, *, lock: bool = False
) -> Customer:
    return await CustomerRepository(session).get_or_404(
        organization_id, customer_id, for_update=lock
    )


async def get_customer_by_external_id(
    session: AsyncSession, organization_id: uuid.UUID, external_id: str, *, lock: bool = False
) -> Customer:
    customer = await CustomerRepository(session).get_by_external_id(
        organization_id, external_id, for_update=lock
    )
    if customer is None:
        raise ResourceNotFound()
    return customer


async def update_customer(
    session: AsyncSession, customer: Customer, body: CustomerUpdate | CustomerUpdateExternalID
) -> Customer:
    fields = body.model_fields_set
    repository = CustomerRepository(session)
    if "email" in fields and body.email is not None and body.email != customer.email:
        if await repository.email_taken(
            customer.organization_id, body.email, except_id=customer.id
        ):
            raise _taken("email", body.email)
        customer.email = body.email
        customer.email_verified = False
    if "name" in fields:
        customer.name = body.name
    if "locale" in fields:
        customer.locale = body.locale
    if "metadata" in fields and body.metadata is not None:
        customer.user_metadata = dict(body.metadata)
    if "billing_address" in fields:
        customer.billing_address = (
            body.billing_address.model_dump() if body.billing_address else None
        )
    if "tax_id" in fields or "billing_address" in fields:
        address = (
            AddressInput.model_validate(customer.billing_address)
            if customer.billing_address
            else None
        )
        raw = body.tax_id if "tax_id" in fields else customer.tax_id
        customer.tax_id, customer.tax_id_format = _tax_id(raw, address)
    if isinstance(body, CustomerUpdate):
        _update_identity(customer, body)
    await _flush(session, body.model_dump())
    await _emit(session, WebhookEventType.customer_updated, customer)
    return customer


def _update_identity(customer: Customer, body: CustomerUpdate) -> None:
    fields = body.model_fields_set
    if "external_id" in fields and body.external_id != customer.external_id:
        if customer.external_id is not None:
            raise ValidationFailed.field(
                ("body", "external_id"), "external_id cannot be changed once set.", body.external_id
            )
        customer.external_id = body.external_id
    if "type" in fields and body.type is not None and str(body.type) != customer.type:
        if body.type != CustomerType.team:
            raise ValidationFailed.field(
                ("body", "type"), "A team customer cannot become an individual.", str(body.type)
            )
        customer.type = str(body.type)
    if customer.type == CustomerType.individual and customer.email is None:
        raise ValidationFailed.field(("body", "email"), "An individual customer needs an email.")


def _pseudonym(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


async def delete_customer(session: AsyncSession, customer: Customer, *, anonymize: bool) -> None:
    """Soft-delete (orders keep their customer); ``anonymize`` also scrubs personal data."""
    customer.deleted_at = utc_now()
    if anonymize:
        if customer.email is not None:
            customer.email = f"{_pseudonym(customer.email.lower())}@anonymized.invalid"
        keep_name = customer.type == CustomerType.team or customer.tax_id is not None
        if customer.name is not None and not keep_name:
            customer.name = _pseudonym(customer.name)
        if customer.billing_name is not None and not keep_name:
            customer.billing_name = _pseudonym(customer.billing_name)
        customer.billing_address = None
    await session.flush()
    await _emit(session, WebhookEventType.customer_deleted, customer)
