"""Batched settlement: plain successes are settled together in one transaction; every other
event of the batch is handed to the one-event settlement, which then settles it correctly."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.checkout.settlement_batch import settle_many
from kassa.kit import sql
from kassa.kit.db import session_scope
from kassa.models import Order, Payment, ProcessorEvent, WebhookEvent
from kassa.payments import inbox, sandbox
from kassa.payments.events import payment_intent_event
from kassa.payments.jobs import ProcessEvent, hand_off_inbox, inbox_backlog
from tests.checkout.conftest import (
    JSON,
    RunJobs,
    confirm,
    create_checkout,
    create_endpoint,
    create_product,
)
from tests.conftest import Tenant


async def _inbox(
    sessionmaker: async_sessionmaker[AsyncSession], checkout_ids: list[str]
) -> dict[str, tuple[str, str, str | None]]:
    """Inbox events about these checkouts: event id → (inbox id, intent, outcome)."""
    async with sessionmaker() as session:
        intent = ProcessorEvent.payload["data"]["object"]
        rows = await session.execute(
            select(
                ProcessorEvent.event_id,
                ProcessorEvent.id,
                intent["id"].astext,
                ProcessorEvent.outcome,
            ).where(intent["metadata"]["kassa_checkout_id"].astext.in_(checkout_ids))
        )
        return {event_id: (str(id_), pi, outcome) for event_id, id_, pi, outcome in rows}


async def _intent_of(sessionmaker: async_sessionmaker[AsyncSession], checkout: JSON) -> str:
    async with sessionmaker() as session:
        statement = select(Payment.processor_id).where(
            Payment.checkout_id == uuid.UUID(checkout["id"])
        )
        return str(await session.scalar(statement))


async def test_a_batch_settles_plain_successes_and_hands_back_the_rest(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: RunJobs,
) -> None:
    await create_endpoint(client, tenant, ["order.created", "order.paid", "checkout.updated"])
    product = await create_product(client, tenant)
    checkouts = [await create_checkout(client, tenant, product_id=product["id"]) for _ in range(4)]
    for checkout in checkouts:
        assert (await confirm(client, checkout)).status_code == 200
    plain, duplicated, failed_late, charged_twice = checkouts
    duplicated_intent = await _intent_of(sessionmaker, duplicated)
    failed_intent = await _intent_of(sessionmaker, failed_late)
    async with session_scope(sessionmaker) as session:
        # The same success redelivered under another event id; a failure after the success;
        # a second charge of a checkout that another payment pays.
        await inbox.receive(
            session,
            "sandbox",
            "evt_redelivered",
            "payment_intent.succeeded",
            payment_intent_event(
                "evt_redelivered",
                "payment_intent.succeeded",
                duplicated_intent,
                amount=2500,
                currency="usd",
                metadata={"kassa_checkout_id": duplicated["id"]},
                created=0,
            ),
        )
        await sandbox.send_event(
            session,
            failed_intent,
            "payment_intent.payment_failed",
            amount=2500,
            currency="usd",
            metadata={"kassa_checkout_id": failed_late["id"]},
        )
        await sandbox.send_event(
            session,
            "sbx_pi_second_charge",
            "payment_intent.succeeded",
            amount=2500,
            currency="usd",
            metadata={"kassa_checkout_id": charged_twice["id"]},
        )
    ids = [c["id"] for c in checkouts]
    events = await _inbox(sessionmaker, ids)
    assert len(events) == 7

    async with session_scope(sessionmaker) as session:
        left = await settle_many(
            session, [uuid.UUID(inbox_id) for inbox_id, _, _ in events.values()]
        )

    after = await _inbox(sessionmaker, ids)
    handed_back = {str(i) for i in left}
    settled = {event_id for event_id, (_, _, outcome) in after.items() if outcome is not None}
    assert {after[e][0] for e in after if e not in settled} == handed_back
    assert len(handed_back) == 3 and len(settled) == 4
    assert all(after[e][2] == "order_paid" for e in settled)
    # Of the two successes of ``duplicated``, exactly one was settled in the batch.
    assert sum(after[e][1] == duplicated_intent for e in settled) == 1
    assert "sbx_pi_second_charge" not in {after[e][1] for e in settled}

    async with sessionmaker() as session:
        orders = (
            await session.execute(
                select(Order.checkout_id, Order.status).where(
                    Order.checkout_id.in_([uuid.UUID(i) for i in ids])
                )
            )
        ).all()
        hooks = (
            await session.execute(
                select(WebhookEvent.type, WebhookEvent.resource_key)
                .where(WebhookEvent.organization_id == tenant.organization_id)
                .where(WebhookEvent.type != "checkout.updated")
                .order_by(WebhookEvent.sequence)
            )
        ).all()
    assert sorted(str(c) for c, _ in orders) == sorted(ids)
    assert {status for _, status in orders} == {"paid"}
    # Each order's events in order: created, then paid.
    assert [type_ for type_, _ in hooks] == ["order.created", "order.paid"] * 4
    assert len({key for _, key in hooks}) == 4

    async def all_processed() -> bool:
        return all(o is not None for _, _, o in (await _inbox(sessionmaker, ids)).values())

    await run_jobs(all_processed)
    outcomes = {e: outcome for e, (_, _, outcome) in (await _inbox(sessionmaker, ids)).items()}
    assert sorted(o for e, o in outcomes.items() if e not in settled) == [
        "duplicate",
        "duplicate_charge",
        "ignored",
    ]
    async with sessionmaker() as session:
        second = await session.scalar(
            select(Payment.status).where(Payment.processor_id == "sbx_pi_second_charge")
        )
        order_count = await session.scalar(
            select(Order.id.is_not(None)).where(Order.checkout_id == uuid.UUID(charged_twice["id"]))
        )
    assert second == "needs_review"
    assert order_count is True
    plain_state = await client.get(f"/v1/checkouts/{plain['id']}", headers=tenant.headers)
    assert plain_state.json()["status"] == "succeeded"


async def _unsettled(sessionmaker: async_sessionmaker[AsyncSession]) -> set[uuid.UUID]:
    """The inbox ids a batch of the inbox feed may still take."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(ProcessorEvent.id).where(
                ProcessorEvent.processed_at.is_(None), ProcessorEvent.handed_off_at.is_(None)
            )
        )
        return set(rows)


async def _confirmed(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[JSON, str, str, str]:
    """A confirmed checkout and its one inbox event: (checkout, event id, inbox id, intent)."""
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    assert (await confirm(client, checkout)).status_code == 200  # its event rode with the confirm
    [(event_id, (inbox_id, intent, _))] = (await _inbox(sessionmaker, [checkout["id"]])).items()
    return checkout, event_id, inbox_id, intent


async def test_an_event_stored_alongside_other_writes_is_stored_once_and_settled_once(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: RunJobs,
) -> None:
    checkout, event_id, inbox_id, intent = await _confirmed(client, tenant, sessionmaker)
    assert uuid.UUID(inbox_id) in await _unsettled(sessionmaker)  # the feed's to take

    async with session_scope(sessionmaker) as session:
        writes = sql.Writes()
        sent = await sandbox.send_event(
            session,
            intent,
            "payment_intent.succeeded",
            amount=2500,
            currency="usd",
            metadata={"kassa_checkout_id": checkout["id"]},
            writes=writes,
        )
        await writes.run(session)
    assert sent
    events = await _inbox(sessionmaker, [checkout["id"]])
    assert list(events) == [event_id]  # the same event id: not stored again

    async def settled() -> bool:
        outcome = (await _inbox(sessionmaker, [checkout["id"]]))[event_id][2]
        return outcome is not None and uuid.UUID(inbox_id) not in await _unsettled(sessionmaker)

    await run_jobs(settled)
    async with sessionmaker() as session:
        orders = await session.scalar(
            select(func.count()).where(Order.checkout_id == uuid.UUID(checkout["id"]))
        )
    assert orders == 1


async def test_events_handed_off_after_a_failed_batch_are_settled_by_their_own_jobs(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: RunJobs,
) -> None:
    checkout, event_id, inbox_id, _ = await _confirmed(client, tenant, sessionmaker)
    async with sessionmaker() as session:
        waiting, oldest = await inbox_backlog(session)
    assert waiting >= 1 and oldest is not None and oldest >= 0
    async with session_scope(sessionmaker) as session:
        assert await hand_off_inbox(session, 100) >= 1
    assert uuid.UUID(inbox_id) not in await _unsettled(sessionmaker)
    async with sessionmaker() as session:
        jobs = await session.scalars(
            text("SELECT payload FROM pgqueuer WHERE entrypoint LIKE '%process_processor_event'")
        )
        assert uuid.UUID(inbox_id) in {ProcessEvent.model_validate_json(p).inbox_id for p in jobs}

    async def settled() -> bool:
        return (await _inbox(sessionmaker, [checkout["id"]]))[event_id][2] == "order_paid"

    await run_jobs(settled)
    state = await client.get(f"/v1/checkouts/{checkout['id']}", headers=tenant.headers)
    assert state.json()["status"] == "succeeded"
