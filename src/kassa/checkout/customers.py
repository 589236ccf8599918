"""The customer a checkout is for: named by the checkout, or found by external id or email,
or created. Plain SQL (``kit.sql``): every confirm asks; the customer returned is a value."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.checkout.repository import CustomerLookup
from kassa.customer.repository import CustomerRepository
from kassa.customer.schemas import CustomerCreate
from kassa.customer.service import announce_created, new_customer
from kassa.kit import sql
from kassa.kit.errors import ValidationFailed
from kassa.models import Checkout, Customer


async def find_or_create_customer(
    session: AsyncSession,
    checkout: Checkout,
    lookup: CustomerLookup | None = None,
    writes: sql.Writes | None = None,
) -> Customer:
    """The checkout's customer: the one it names, else found by external id or email, else a
    new one. A concurrent checkout creating the same customer makes the insert a no-op
    (``ON CONFLICT DO NOTHING``); the winner's row is read instead.

    ``lookup`` (made with the checkout) stands for the first search when it was made with the
    keys the checkout has now. With ``writes``, a new customer (and its ``customer.created``)
    is inserted with them: a concurrent checkout that created the same customer first makes
    their statement fail whole (a unique violation), for the caller to try again."""
    repository = CustomerRepository(session)
    found = await _first_search(repository, checkout, lookup)
    if found is None and writes is not None:
        customer = _new_customer(checkout)
        writes.insert([customer])
        await announce_created(session, customer, writes)
        return customer
    for attempt in range(2):
        if attempt:
            found = await _find_customer(repository, checkout)
        if found is not None:
            return found
        customer = _new_customer(checkout)
        if await repository.insert_unless_taken(customer):
            await announce_created(session, customer)
            return customer
    raise ValidationFailed.field(
        ("body", "customer_email"),
        "This email belongs to another customer.",
        checkout.customer_email,
    )


def _new_customer(checkout: Checkout) -> Customer:
    return new_customer(
        checkout.organization_id,
        CustomerCreate(
            email=checkout.customer_email,
            name=checkout.customer_name,
            external_id=checkout.external_customer_id,
            billing_address=checkout.customer_billing_address,
            metadata=checkout.customer_metadata,
        ),
    )


async def _first_search(
    repository: CustomerRepository, checkout: Checkout, lookup: CustomerLookup | None
) -> Customer | None:
    if lookup is not None and lookup.answers(checkout):
        if lookup.customer is not None and lookup.by_email:
            _check_email_match(lookup.customer, checkout)
        return lookup.customer
    if checkout.customer_id is not None:
        named = await repository.live(checkout.organization_id, checkout.customer_id)
        if named is not None:
            return named
    return await _find_customer(repository, checkout)


async def _find_customer(repository: CustomerRepository, checkout: Checkout) -> Customer | None:
    organization_id = checkout.organization_id
    if checkout.external_customer_id is not None:
        found = await repository.live_by_external_id(organization_id, checkout.external_customer_id)
        if found is not None:
            return found
        # An email of another external customer cannot be reused for this one.
    found = await repository.live_by_email(organization_id, str(checkout.customer_email))
    if found is not None:
        _check_email_match(found, checkout)
    return found


def _check_email_match(found: Customer, checkout: Checkout) -> None:
    """A customer found by email (no customer has the checkout's external id) is not this
    checkout's when it has an external id of its own."""
    if checkout.external_customer_id is not None and found.external_id:
        raise ValidationFailed.field(
            ("body", "customer_email"),
            "This email belongs to a customer with another external id.",
            checkout.customer_email,
        )
