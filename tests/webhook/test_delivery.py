"""The delivery engine against a real receiver: retries on Kassa's clock, Retry-After, 410,
redirects, timeouts, ordering per resource, and disabling a failing endpoint."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.jobs.schema import QUEUE_TABLE
from kassa.kit import clock
from kassa.kit.db import session_scope
from kassa.models import OrganizationNotice, WebhookDelivery, WebhookEndpoint, WebhookEvent
from kassa.webhook.delivery import MAX_ATTEMPTS, RETRY_SCHEDULE
from tests.support.receiver import Receiver, Reply, running_receiver
from tests.webhook.conftest import Hooked, attempt, deliver_all, pending_events, settings_with

PRODUCT = {"name": "Delivered", "prices": [{"amount_type": "fixed", "price_amount": 100}]}


async def _create_product(client: httpx.AsyncClient, hooked: Hooked) -> dict[str, str]:
    response = await client.post("/v1/products/", headers=hooked.tenant.headers, json=PRODUCT)
    assert response.status_code == 201
    product: dict[str, str] = response.json()
    return product


async def _event(sessionmaker: async_sessionmaker[AsyncSession], event_id: object) -> WebhookEvent:
    async with sessionmaker() as session:
        event = await session.get(WebhookEvent, event_id)
        assert event is not None
        return event


async def test_retries_follow_the_schedule_then_fail(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> None:
    receiver.default = Reply(500, b"boom")
    await _create_product(client, hooked)
    [event] = await pending_events(sessionmaker, hooked.tenant.organization_id)
    try:
        for number in range(1, MAX_ATTEMPTS + 1):
            outcome = await attempt(sessionmaker, event.id, http)
            if number < MAX_ATTEMPTS:
                assert outcome.status == "retry_scheduled"
                delay = RETRY_SCHEDULE[number - 1]
                assert outcome.next_at is not None
                assert abs((outcome.next_at - clock.utc_now()) - delay) < timedelta(seconds=2)
                # Not due yet: nothing is sent before the schedule says so.
                early = await attempt(sessionmaker, event.id, http)
                assert early.status == "not_due"
                clock.advance(delay)
            else:
                assert outcome.status == "failed"
    finally:
        clock.reset()
    assert len(receiver.received) == MAX_ATTEMPTS
    assert {r.headers["webhook-id"] for r in receiver.received} == {str(event.id)}
    stored = await _event(sessionmaker, event.id)
    assert (stored.status, stored.attempts, stored.last_http_code) == ("failed", 10, 500)
    async with sessionmaker() as session:
        log = (
            (
                await session.execute(
                    select(WebhookDelivery).where(WebhookDelivery.webhook_event_id == event.id)
                )
            )
            .scalars()
            .all()
        )
    assert sorted(d.attempt for d in log) == list(range(1, MAX_ATTEMPTS + 1))
    assert all(not d.succeeded and d.http_code == 500 and d.response == "boom" for d in log)
    total = sum(RETRY_SCHEDULE, timedelta())
    assert timedelta(days=2) < total < timedelta(days=4)


async def test_retry_after_stretches_the_delay(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> None:
    receiver.replies = [Reply(429, headers={"Retry-After": "600"})]
    await _create_product(client, hooked)
    [event] = await pending_events(sessionmaker, hooked.tenant.organization_id)
    outcome = await attempt(sessionmaker, event.id, http)
    assert outcome.next_at is not None
    assert outcome.next_at - clock.utc_now() > timedelta(seconds=590)


async def test_gone_disables_the_endpoint_and_tells_the_organization(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> None:
    receiver.default = Reply(410)
    await _create_product(client, hooked)
    outcomes = await deliver_all(sessionmaker, hooked.tenant.organization_id, http)
    assert [o.status for o in outcomes] == ["gone"]
    endpoint = (
        await client.get(
            f"/v1/webhooks/endpoints/{hooked.endpoint_id}", headers=hooked.tenant.headers
        )
    ).json()
    assert endpoint["enabled"] is False
    async with sessionmaker() as session:
        notices = (
            (
                await session.execute(
                    select(OrganizationNotice).where(
                        OrganizationNotice.organization_id == hooked.tenant.organization_id
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [n.type for n in notices] == ["webhook_endpoint.disabled"]
    # A disabled endpoint is no longer sent anything.
    await _create_product(client, hooked)
    assert await pending_events(sessionmaker, hooked.tenant.organization_id) == []


async def test_redirects_are_not_followed(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> None:
    with running_receiver() as elsewhere:
        receiver.default = Reply(307, headers={"Location": elsewhere.url})
        await _create_product(client, hooked)
        outcomes = await deliver_all(sessionmaker, hooked.tenant.organization_id, http)
        assert [o.status for o in outcomes] == ["retry_scheduled"]
        assert elsewhere.received == []


async def test_slow_receivers_time_out(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> None:
    receiver.default = Reply(200, delay=1.5)
    await _create_product(client, hooked)
    [event] = await pending_events(sessionmaker, hooked.tenant.organization_id)
    outcome = await attempt(
        sessionmaker, event.id, http, settings_with(webhooks_timeout_seconds=0.3)
    )
    assert outcome.status == "retry_scheduled"
    async with sessionmaker() as session:
        [logged] = (
            (
                await session.execute(
                    select(WebhookDelivery).where(WebhookDelivery.webhook_event_id == event.id)
                )
            )
            .scalars()
            .all()
        )
    assert logged.error == "Timed out" and logged.http_code is None


async def test_events_about_one_resource_arrive_in_order(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> None:
    product = await _create_product(client, hooked)
    for name in ("Second", "Third"):
        await client.patch(
            f"/v1/products/{product['id']}", headers=hooked.tenant.headers, json={"name": name}
        )
    first, second, third = await pending_events(sessionmaker, hooked.tenant.organization_id)

    receiver.replies = [Reply(503)]
    assert (await attempt(sessionmaker, third.id, http)).status == "waiting_for_predecessor"
    assert (await attempt(sessionmaker, first.id, http)).status == "retry_scheduled"
    # The first one failed and waits for its retry: the later ones keep waiting behind it.
    assert (await attempt(sessionmaker, second.id, http)).status == "waiting_for_predecessor"
    clock.advance(RETRY_SCHEDULE[0])
    try:
        delivered = await attempt(sessionmaker, first.id, http)
        assert delivered.status == "delivered" and delivered.successor_id == second.id
        clock.advance(timedelta(seconds=5))
        assert (await attempt(sessionmaker, second.id, http)).successor_id == third.id
        assert (await attempt(sessionmaker, third.id, http)).status == "delivered"
    finally:
        clock.reset()
    names = [r.text for r in receiver.received[1:]]
    assert [n.count('"Delivered"') for n in names] == [1, 0, 0]
    assert '"Second"' in names[1] and '"Third"' in names[2]


async def test_consecutive_failed_events_disable_the_endpoint(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> None:
    receiver.default = Reply(500)
    settings = settings_with(webhooks_disable_after_failed_events=2)
    for _ in range(2):
        await _create_product(client, hooked)
    try:
        for _ in range(MAX_ATTEMPTS):
            for event in await pending_events(sessionmaker, hooked.tenant.organization_id):
                await attempt(sessionmaker, event.id, http, settings)
            clock.advance(timedelta(days=1))
    finally:
        clock.reset()
    async with sessionmaker() as session:
        endpoint = await session.get(WebhookEndpoint, hooked.endpoint["id"])
    assert endpoint is not None
    assert endpoint.enabled is False
    assert "2 consecutive events failed" in (endpoint.disabled_reason or "")


async def test_nothing_is_emitted_for_a_rolled_back_change(
    hooked: Hooked, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    from kassa.product import service
    from kassa.product.schemas import ProductCreate

    body = ProductCreate.model_validate(PRODUCT)
    async with sessionmaker() as session:
        await service.create_product(session, hooked.tenant.organization_id, body)
        [event] = await _events_in(session, hooked)  # visible inside the transaction
        event_id = event.id
        assert await _delivery_jobs_for(session, event_id) == 1
        await session.rollback()
    async with session_scope(sessionmaker) as session:
        assert await _events_in(session, hooked) == []
        assert await _delivery_jobs_for(session, event_id) == 0


async def _delivery_jobs_for(session: AsyncSession, event_id: object) -> int:
    """Queued delivery jobs whose payload names the event."""
    count = await session.scalar(
        text(f"SELECT count(*) FROM {QUEUE_TABLE} WHERE convert_from(payload, 'UTF8') LIKE :id"),
        {"id": f"%{event_id}%"},
    )
    return int(count or 0)


async def _events_in(session: AsyncSession, hooked: Hooked) -> list[WebhookEvent]:
    statement = select(WebhookEvent).where(
        WebhookEvent.organization_id == hooked.tenant.organization_id
    )
    return list((await session.execute(statement)).scalars())
