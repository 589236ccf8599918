"""Settlement when the processor's event and Kassa's records disagree: a confirm lost after the
processor took the money, a failure nobody knows, a wrong amount, a second charge."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.checkout.settlement import settle
from kassa.kit.db import session_scope
from kassa.models import OrganizationNotice, Payment, ProcessorEvent
from kassa.payments import sandbox
from kassa.payments.processor import PaymentSettlement
from tests.checkout.conftest import JSON, PAY, RunJobs, confirm, create_checkout, create_product
from tests.conftest import Tenant


async def _ready_checkout(client: httpx.AsyncClient, tenant: Tenant) -> JSON:
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    fields = {k: v for k, v in PAY.items() if k != "confirmation_token_id"}
    response = await client.patch(f"/v1/checkouts/client/{checkout['client_secret']}", json=fields)
    assert response.status_code == 200
    return checkout


async def _send(
    sessionmaker: async_sessionmaker[AsyncSession],
    checkout: JSON,
    event_type: str,
    amount: int = 2500,
) -> str:
    intent = f"sbx_pi_lost_{uuid.uuid4().hex[:12]}"
    async with session_scope(sessionmaker) as session:
        await sandbox.send_event(
            session,
            intent,
            event_type,
            amount=amount,
            currency="usd",
            metadata={"kassa_checkout_id": checkout["id"]},
        )
    return intent


async def _outcome(sessionmaker: async_sessionmaker[AsyncSession], intent: str) -> str | None:
    async with sessionmaker() as session:
        statement = select(ProcessorEvent.outcome).where(
            ProcessorEvent.payload["data"]["object"]["id"].astext == intent
        )
        return await session.scalar(statement)


async def _settled(
    sessionmaker: async_sessionmaker[AsyncSession], run_jobs: RunJobs, intent: str
) -> str | None:
    """Run the worker until the event about ``intent`` is processed; its outcome."""

    async def processed() -> bool:
        return await _outcome(sessionmaker, intent) is not None

    await run_jobs(processed)
    return await _outcome(sessionmaker, intent)


async def _run_until_paid(
    client: httpx.AsyncClient, tenant: Tenant, run_jobs: RunJobs, checkout: JSON
) -> None:
    async def paid() -> bool:
        state = await client.get(f"/v1/checkouts/{checkout['id']}", headers=tenant.headers)
        return bool(state.json()["status"] == "succeeded")

    await run_jobs(paid)


async def _payment_statuses(
    sessionmaker: async_sessionmaker[AsyncSession], checkout: JSON
) -> dict[str, str]:
    """The checkout's payments: processor id → status."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Payment.processor_id, Payment.status).where(
                Payment.checkout_id == uuid.UUID(checkout["id"])
            )
        )
        return {processor_id: status for processor_id, status in rows}


async def test_a_lost_confirm_is_adopted_into_a_paid_order(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: RunJobs,
) -> None:
    checkout = await _ready_checkout(client, tenant)
    intent = await _send(sessionmaker, checkout, "payment_intent.succeeded")

    assert await _settled(sessionmaker, run_jobs, intent) == "order_paid"
    orders = await client.get(
        "/v1/orders/", headers=tenant.headers, params={"checkout_id": checkout["id"]}
    )
    [order] = orders.json()["items"]
    assert (order["status"], order["total_amount"]) == ("paid", 2500)
    assert order["customer"]["email"] == PAY["customer_email"]
    state = await client.get(f"/v1/checkouts/{checkout['id']}", headers=tenant.headers)
    assert state.json()["status"] == "succeeded"
    # The customer cannot be charged again for it.
    assert (await confirm(client, checkout)).status_code == 403


async def test_an_unknown_failure_is_ignored_at_once(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: RunJobs,
) -> None:
    checkout = await _ready_checkout(client, tenant)
    intent = await _send(sessionmaker, checkout, "payment_intent.payment_failed")

    assert await _settled(sessionmaker, run_jobs, intent) == "ignored"
    state = await client.get(f"/v1/checkouts/{checkout['id']}", headers=tenant.headers)
    assert state.json()["status"] == "open"


async def test_wrong_amounts_and_second_charges_are_kept_for_review(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: RunJobs,
) -> None:
    checkout = await _ready_checkout(client, tenant)
    wrong = await _send(sessionmaker, checkout, "payment_intent.succeeded", amount=100)

    assert await _settled(sessionmaker, run_jobs, wrong) == "amount_mismatch"
    orders = await client.get(
        "/v1/orders/", headers=tenant.headers, params={"checkout_id": checkout["id"]}
    )
    assert orders.json()["items"] == []

    # The customer pays properly; then the processor reports yet another charge for it.
    assert (await confirm(client, checkout)).status_code == 200

    await _run_until_paid(client, tenant, run_jobs, checkout)
    second = await _send(sessionmaker, checkout, "payment_intent.succeeded")

    assert await _settled(sessionmaker, run_jobs, second) == "duplicate_charge"
    orders = await client.get(
        "/v1/orders/", headers=tenant.headers, params={"checkout_id": checkout["id"]}
    )
    assert len(orders.json()["items"]) == 1
    by_intent = await _payment_statuses(sessionmaker, checkout)
    async with sessionmaker() as session:
        notices = (
            (
                await session.execute(
                    select(OrganizationNotice.type).where(
                        OrganizationNotice.organization_id == tenant.organization_id
                    )
                )
            )
            .scalars()
            .all()
        )
    assert by_intent[wrong] == "needs_review"
    assert by_intent[second] == "needs_review"
    assert sorted(by_intent.values()).count("succeeded") == 1
    assert notices == ["payment.needs_review", "payment.needs_review"]


async def test_a_lost_charge_of_a_checkout_being_paid_is_kept_for_review(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: RunJobs,
) -> None:
    """A success for an unknown payment of a checkout whose own payment is still in flight:
    a second charge, recorded for review (the live-payment index refused it before, and the
    job retried until it was held failed)."""
    checkout = await _ready_checkout(client, tenant)
    assert (await confirm(client, checkout)).status_code == 200  # its payment is pending
    lost = f"sbx_pi_lost_{uuid.uuid4().hex[:12]}"
    async with session_scope(sessionmaker) as session:
        outcome = await settle(
            session,
            "sandbox",
            PaymentSettlement(lost, "succeeded", 2500, "usd", checkout_id=checkout["id"]),
        )
    assert outcome == "duplicate_charge"

    await _run_until_paid(client, tenant, run_jobs, checkout)
    orders = await client.get(
        "/v1/orders/", headers=tenant.headers, params={"checkout_id": checkout["id"]}
    )
    assert len(orders.json()["items"]) == 1
    statuses = await _payment_statuses(sessionmaker, checkout)
    assert statuses.pop(lost) == "needs_review"
    assert list(statuses.values()) == ["succeeded"]
