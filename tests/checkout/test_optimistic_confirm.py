"""A sandbox confirm reads its checkout without a lock and writes everything in one statement
that requires the checkout unchanged since; a processor that calls out confirms under the
checkout's lock. Either way a change in between never lets a second payment through."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.checkout import confirm as confirm_module
from kassa.kit.db import session_scope
from kassa.models import Customer, DiscountRedemption, Payment, ProcessorEvent, WebhookEvent
from kassa.payments.sandbox import SandboxProcessor
from tests.checkout.conftest import (
    JSON,
    PAY,
    confirm,
    create_checkout,
    create_endpoint,
    create_product,
)
from tests.conftest import Tenant
from tests.support.statements import record_statements


async def _rows(sessionmaker: async_sessionmaker[AsyncSession], model: Any, *where: Any) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _checkouts_updated(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> int:
    """The tenant's ``checkout.updated`` events."""
    return await _rows(
        sessionmaker,
        WebhookEvent,
        WebhookEvent.organization_id == tenant.organization_id,
        WebhookEvent.type == "checkout.updated",
    )


async def _checkout(client: httpx.AsyncClient, checkout: JSON) -> JSON:
    response = await client.get(f"/v1/checkouts/client/{checkout['client_secret']}")
    found: JSON = response.json()
    return found


@pytest.mark.parametrize(
    "case",
    [
        "a returning customer: the write alone",
        "a new customer: inserted with the write",
        "a discount: redeemed first, the write in the transaction",
    ],
)
async def test_a_checkout_changed_under_every_attempt_is_refused_whole(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    if case.startswith("a returning"):
        response = await client.post(
            "/v1/customers/", headers=tenant.headers, json={"email": PAY["customer_email"]}
        )
        assert response.status_code == 201, response.text
    body: dict[str, Any] = {}
    if case.startswith("a discount"):
        code = f"OPT{uuid.uuid4().hex[:6].upper()}"
        response = await client.post(
            "/v1/discounts/",
            headers=tenant.headers,
            json={"name": "Ten", "type": "percentage", "basis_points": 1000, "duration": "once"}
            | {"code": code},
        )
        assert response.status_code == 201, response.text
        body = {"discount_code": code}
    customers_before = await _rows(
        sessionmaker, Customer, Customer.organization_id == tenant.organization_id
    )
    await create_endpoint(client, tenant, events=["checkout.updated"])
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    checkout_id = uuid.UUID(checkout["id"])
    find_customer = confirm_module.find_or_create_customer

    async def changed_meanwhile(*args: Any, **kwargs: Any) -> Any:
        # Another request changes the checkout after this confirm read it (each time: a
        # confirm whose write ran alone tries once more).
        async with session_scope(sessionmaker) as other:
            await other.execute(
                text("UPDATE checkouts SET customer_name = 'Meanwhile' WHERE id = :id"),
                {"id": checkout_id},
            )
        return await find_customer(*args, **kwargs)

    events_before = await _rows(sessionmaker, ProcessorEvent)
    monkeypatch.setattr(confirm_module, "find_or_create_customer", changed_meanwhile)
    response = await confirm(client, checkout, **body)
    monkeypatch.undo()
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "CheckoutLocked"
    # Nothing of the confirm was written: no payment, no processor event, no webhook.
    assert await _rows(sessionmaker, Payment, Payment.checkout_id == checkout_id) == 0
    assert await _rows(sessionmaker, ProcessorEvent) == events_before
    assert (
        await _rows(sessionmaker, Customer, Customer.organization_id == tenant.organization_id)
        == customers_before
    )
    assert not await _rows(
        sessionmaker, DiscountRedemption, DiscountRedemption.checkout_id == checkout_id
    )
    assert await _checkouts_updated(sessionmaker, tenant) == 0
    stored = await _checkout(client, checkout)
    assert (stored["status"], stored["customer_name"]) == ("open", "Meanwhile")

    # Asked again, it goes through.
    assert (await confirm(client, checkout, **body)).status_code == 200
    assert await _rows(sessionmaker, Payment, Payment.checkout_id == checkout_id) == 1
    assert await _checkouts_updated(sessionmaker, tenant) == 1


async def test_a_checkout_changed_once_meanwhile_is_confirmed_on_the_second_try_keeping_it(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    find_customer = confirm_module.find_or_create_customer
    changes = 0

    async def changed_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal changes
        if not changes:
            changes += 1
            async with session_scope(sessionmaker) as other:
                await other.execute(
                    text(
                        "UPDATE checkouts SET success_url = 'https://meanwhile.example/' "
                        "WHERE id = :id"
                    ),
                    {"id": uuid.UUID(checkout["id"])},
                )
        return await find_customer(*args, **kwargs)

    monkeypatch.setattr(confirm_module, "find_or_create_customer", changed_once)
    statements = record_statements(monkeypatch)
    response = await confirm(client, checkout)
    monkeypatch.undo()
    assert response.status_code == 200, response.text
    # Read, (the other request's change), the write that lost, read again, the write; the
    # change made meanwhile is kept.
    ours = [s[:20] for s in statements if "meanwhile" not in s and s not in ("BEGIN;", "COMMIT;")]
    assert ours == 2 * ["SELECT c.*, c.xmin A", "WITH write_0 AS (INS"]
    assert response.json()["success_url"] == "https://meanwhile.example/"
    assert response.json()["status"] == "confirmed"
    checkout_id = uuid.UUID(checkout["id"])
    assert await _rows(sessionmaker, Payment, Payment.checkout_id == checkout_id) == 1


class _CallingOut(SandboxProcessor):
    """The sandbox standing for a processor that calls a remote service."""

    name = "stripe"
    remote = True


@pytest.mark.parametrize(
    "case",
    [
        "the deployment's processor calls out",
        "the checkout's processor calls out, the deployment's does not",
    ],
)
async def test_a_processor_that_calls_out_confirms_under_the_checkouts_lock(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    deployments = case.startswith("the deployment's")
    if deployments:
        monkeypatch.setattr(SandboxProcessor, "remote", True)
    else:
        async with session_scope(sessionmaker) as session:
            await session.execute(
                text("UPDATE checkouts SET processor = 'stripe' WHERE id = :id"),
                {"id": uuid.UUID(checkout["id"])},
            )
        processor_for = confirm_module.processor_for
        monkeypatch.setattr(
            confirm_module,
            "processor_for",
            lambda name: _CallingOut() if name == "stripe" else processor_for(name),
        )
    statements = record_statements(monkeypatch)
    response = await confirm(client, checkout)
    monkeypatch.undo()
    assert response.status_code == 200, response.text
    # Locked and read before anything else (the deployment's processor known at once; else
    # read, then its processor known, locked and read again): the new customer, the one write
    # statement, which needs no version under the lock.
    reads = [s for s in statements if s.startswith("SELECT c.*, c.xmin")]
    if deployments:
        begin, lock, *_, write, commit = statements
        assert reads == [lock]
    else:
        read, begin, lock, *_, write, commit = statements
        assert "FOR UPDATE" not in read and reads == [read, lock]
    assert begin.startswith("BEGIN") and commit.startswith("COMMIT")
    assert lock.endswith("FOR UPDATE OF c NOWAIT")
    assert write.startswith("WITH write_0 AS (") and "kassa_changed_since_read" not in write


async def test_an_update_sets_the_checkouts_modified_at(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    assert checkout["modified_at"] is None
    response = await client.patch(
        f"/v1/checkouts/{checkout['id']}", headers=tenant.headers, json={"metadata": {"k": "v"}}
    )
    assert response.status_code == 200, response.text
    modified = response.json()["modified_at"]
    assert modified is not None and modified > checkout["created_at"]
    assert (await _checkout(client, checkout))["modified_at"] == modified


async def test_a_new_customer_is_inserted_with_the_confirms_one_write(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await create_endpoint(client, tenant, events=["customer.created"])
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    statements = record_statements(monkeypatch)
    response = await confirm(client, checkout, customer_email="first.time@example.com")
    monkeypatch.undo()
    assert response.status_code == 200, response.text
    read, write = statements
    assert (
        "FOR UPDATE" not in read
        and "INSERT INTO customers" in write
        and "INSERT INTO webhook_events" in write
    )
    customer_id = response.json()["customer_id"]
    async with sessionmaker() as session:
        customer = await session.get(Customer, uuid.UUID(customer_id))
        announced = await session.scalar(
            select(func.count()).where(
                WebhookEvent.type == "customer.created",
                WebhookEvent.resource_key == f"customer:{customer_id}",
            )
        )
    assert customer is not None and customer.email == "first.time@example.com"
    assert announced == 1


async def test_two_checkouts_of_one_new_customer_confirmed_together_make_one_customer(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    product = await create_product(client, tenant)
    checkouts = [await create_checkout(client, tenant, product_id=product["id"]) for _ in range(6)]
    email = f"together-{uuid.uuid4().hex[:8]}@example.com"
    responses = await asyncio.gather(*(confirm(client, c, customer_email=email) for c in checkouts))
    statuses = [response.status_code for response in responses]
    # Those that lost the race to create the customer are refused whole (409), not paid twice
    # for two customers; asked again they find the winner's.
    assert 200 in statuses and set(statuses) <= {200, 409}, statuses
    for checkout, response in zip(checkouts, responses, strict=True):
        if response.status_code == 409:
            assert (await confirm(client, checkout, customer_email=email)).status_code == 200
    async with sessionmaker() as session:
        ids = set(
            await session.scalars(
                select(Customer.id).where(
                    Customer.organization_id == tenant.organization_id, Customer.email == email
                )
            )
        )
    assert len(ids) == 1
    paid_for = {(await _checkout(client, checkout))["customer_id"] for checkout in checkouts}
    assert paid_for == {str(ids.pop())}
