"""The customer a checkout is for: named by the checkout, or found by external id or email,
or created."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.customer.schemas import CustomerCreate
from kassa.customer.service import create_customer
from kassa.kit.errors import ValidationFailed
from kassa.models import Checkout, Customer


async def find_or_create_customer(session: AsyncSession, checkout: Checkout) -> Customer:
    """The checkout's customer: the one it names, else found by external id or email, else a
    new one. A concurrent checkout creating the same customer makes the insert conflict; the
    savepoint keeps this transaction usable and the winner's row is read instead."""
    if checkout.customer_id is not None:
        customer = await session.get(Customer, checkout.customer_id)
        if customer is not None and customer.deleted_at is None:
            return customer
    for _ in range(2):
        found = await _find_customer(session, checkout)
        if found is not None:
            return found
        try:
            async with session.begin_nested():
                return await create_customer(
                    session,
                    checkout.organization_id,
                    CustomerCreate(
                        email=checkout.customer_email,
                        name=checkout.customer_name,
                        external_id=checkout.external_customer_id,
                        billing_address=checkout.customer_billing_address,
                        metadata=checkout.customer_metadata,
                    ),
                )
        except ValidationFailed:
            continue  # taken meanwhile: read it
    raise ValidationFailed.field(
        ("body", "customer_email"),
        "This email belongs to another customer.",
        checkout.customer_email,
    )


async def _find_customer(session: AsyncSession, checkout: Checkout) -> Customer | None:
    live = (Customer.organization_id == checkout.organization_id, Customer.deleted_at.is_(None))
    if checkout.external_customer_id is not None:
        statement = select(Customer).where(
            *live, Customer.external_id == checkout.external_customer_id
        )
        found = (await session.execute(statement)).scalar_one_or_none()
        if found is not None:
            return found
        # An email of another external customer cannot be reused for this one.
    statement = select(Customer).where(
        *live, func.lower(Customer.email) == str(checkout.customer_email).lower()
    )
    found = (await session.execute(statement)).scalar_one_or_none()
    if found is not None and checkout.external_customer_id is not None and found.external_id:
        raise ValidationFailed.field(
            ("body", "customer_email"),
            "This email belongs to a customer with another external id.",
            checkout.customer_email,
        )
    return found
