"""Delivering events in batches: order within a batch, mixed outcomes in one transaction,
duplicates and locked events, follow-up jobs, and a hanging endpoint that holds up only its
own events in a running worker."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import httpx
import pytest
import pytest_asyncio
from pydantic import BaseModel
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import Settings, get_settings
from kassa.jobs.registry import BatchContext
from kassa.jobs.schema import QUEUE_TABLE
from kassa.jobs.worker import Worker
from kassa.kit import clock
from kassa.kit.db import create_engine, create_sessionmaker, session_scope
from kassa.models import OrganizationNotice, WebhookDelivery, WebhookEndpoint, WebhookEvent
from kassa.organization.service import create_organization
from kassa.webhook import service as webhook_service
from kassa.webhook.delivery import (
    MAX_ATTEMPTS,
    ORDERING_WAIT,
    RETRY_SCHEDULE,
    Outcome,
    deliver_events,
)
from kassa.webhook.jobs import DeliverWebhookEvent, deliver_webhook_event
from kassa.webhook.schemas import WebhookEndpointCreate, WebhookEventType
from tests.conftest import TEST_SECRET_KEY, Tenant, create_database, drop_database
from tests.support.receiver import Received, Receiver, Reply, running_receiver
from tests.support.statements import record_statements
from tests.webhook.conftest import Hooked, add_endpoint, pending_events

Sessionmaker = async_sessionmaker[AsyncSession]
PRODUCT = {"name": "Batched", "prices": [{"amount_type": "fixed", "price_amount": 100}]}


async def _create_product(client: httpx.AsyncClient, hooked: Hooked) -> dict[str, str]:
    response = await client.post("/v1/products/", headers=hooked.tenant.headers, json=PRODUCT)
    assert response.status_code == 201
    product: dict[str, str] = response.json()
    return product


async def _batch(
    sessionmaker: Sessionmaker,
    ids: list[uuid.UUID],
    http: aiohttp.ClientSession,
    settings: Settings | None = None,
) -> dict[uuid.UUID, Outcome]:
    """One batch in one transaction, as the job runs it."""
    async with session_scope(sessionmaker) as session:
        return await deliver_events(session, ids, http, settings or get_settings())


async def _deliveries(sessionmaker: Sessionmaker, event_id: uuid.UUID) -> list[WebhookDelivery]:
    async with sessionmaker() as session:
        statement = select(WebhookDelivery).where(WebhookDelivery.webhook_event_id == event_id)
        return list((await session.execute(statement)).scalars())


async def test_in_one_batch_only_the_earliest_event_about_a_resource_goes(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: Sessionmaker,
    http: aiohttp.ClientSession,
) -> None:
    product = await _create_product(client, hooked)
    for name in ("Second", "Third"):
        await client.patch(
            f"/v1/products/{product['id']}", headers=hooked.tenant.headers, json={"name": name}
        )
    first, second, third = await pending_events(sessionmaker, hooked.tenant.organization_id)
    try:
        outcomes = await _batch(sessionmaker, [third.id, first.id, second.id], http)
        assert outcomes[first.id].status == "delivered"
        assert outcomes[first.id].successor_id == second.id
        for later in (second, third):
            assert outcomes[later.id].status == "waiting_for_predecessor"
            next_at = outcomes[later.id].next_at
            assert next_at is not None
            assert abs(next_at - clock.utc_now() - ORDERING_WAIT) < timedelta(seconds=1)
        clock.advance(ORDERING_WAIT)
        outcomes = await _batch(sessionmaker, [third.id, second.id], http)
        assert outcomes[second.id].status == "delivered"
        assert outcomes[second.id].successor_id == third.id
        assert outcomes[third.id].status == "waiting_for_predecessor"
        clock.advance(ORDERING_WAIT)
        outcomes = await _batch(sessionmaker, [third.id], http)
        assert outcomes[third.id].status == "delivered"
    finally:
        clock.reset()
    bodies = [json.loads(r.body)["data"]["name"] for r in receiver.received]
    assert bodies == ["Batched", "Second", "Third"]
    assert [r.headers["webhook-id"] for r in receiver.received] == [
        str(first.id),
        str(second.id),
        str(third.id),
    ]
    for event in (first, second, third):
        assert [d.attempt for d in await _deliveries(sessionmaker, event.id)] == [1]


async def test_a_batch_locks_its_events_with_their_endpoints_and_order_in_one_round_trip(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: Sessionmaker,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    product = await _create_product(client, hooked)
    await client.patch(
        f"/v1/products/{product['id']}", headers=hooked.tenant.headers, json={"name": "Second"}
    )
    first, second = await pending_events(sessionmaker, hooked.tenant.organization_id)
    statements = record_statements(monkeypatch)
    outcomes = await _batch(sessionmaker, [second.id, first.id], http)
    monkeypatch.undo()
    assert outcomes[first.id].status == "delivered"
    assert outcomes[second.id].status == "waiting_for_predecessor"
    begin, generic, lock, write, successors, commit = statements
    assert begin.startswith("BEGIN") and commit.startswith("COMMIT")
    assert generic == "SET LOCAL plan_cache_mode = force_generic_plan"
    assert "LEFT JOIN webhook_endpoints" in lock and "behind_pending" in lock
    assert write.startswith("WITH write_0 AS (") and "successor" in successors


async def test_one_batch_with_a_success_a_failure_and_a_gone_endpoint(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: Sessionmaker,
    http: aiohttp.ClientSession,
) -> None:
    with running_receiver() as failing, running_receiver() as gone:
        failing.default = Reply(500, b"boom")
        gone.default = Reply(410, b"gone")
        for other in (failing, gone):
            await add_endpoint(client, hooked.tenant, other.url, ["product.created"])
        await _create_product(client, hooked)
        events = await pending_events(sessionmaker, hooked.tenant.organization_id)
        assert len(events) == 3
        outcomes = await _batch(sessionmaker, [e.id for e in events], http)
        assert len(receiver.received) == len(failing.received) == len(gone.received) == 1

    async with sessionmaker() as session:
        endpoints = {
            e.id: e
            for e in (
                await session.execute(
                    select(WebhookEndpoint).where(
                        WebhookEndpoint.organization_id == hooked.tenant.organization_id
                    )
                )
            ).scalars()
        }
        stored = {
            e.id: e
            for e in (
                await session.execute(select(WebhookEvent).where(WebhookEvent.id.in_(outcomes)))
            ).scalars()
        }
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
    by_url = {endpoints[e.endpoint_id].url: e for e in stored.values()}
    ok, failed, gone_event = by_url[receiver.url], by_url[failing.url], by_url[gone.url]

    assert outcomes[ok.id].status == "delivered"
    assert (ok.status, ok.attempts, ok.last_http_code, ok.next_attempt_at) == (
        "succeeded",
        1,
        200,
        None,
    )
    assert outcomes[failed.id].status == "retry_scheduled"
    assert (failed.status, failed.attempts, failed.last_http_code) == ("pending", 1, 500)
    assert failed.next_attempt_at is not None
    delay = failed.next_attempt_at - clock.utc_now()
    assert abs(delay - RETRY_SCHEDULE[0]) < timedelta(seconds=2)
    assert outcomes[failed.id].next_at == failed.next_attempt_at
    assert outcomes[gone_event.id].status == "gone"
    assert (gone_event.status, gone_event.attempts, gone_event.last_http_code) == (
        "failed",
        1,
        410,
    )

    # One log row per attempt, each with what the receiver answered.
    for event, code, body in ((ok, 200, "ok"), (failed, 500, "boom"), (gone_event, 410, "gone")):
        [logged] = await _deliveries(sessionmaker, event.id)
        assert (logged.attempt, logged.http_code, logged.response) == (1, code, body)
        assert logged.succeeded is (code == 200)
        assert logged.endpoint_id == event.endpoint_id
        assert logged.organization_id == hooked.tenant.organization_id

    assert endpoints[gone_event.endpoint_id].enabled is False
    assert endpoints[failed.endpoint_id].enabled is True
    assert endpoints[ok.endpoint_id].enabled is True
    assert [(n.type, n.subject_id) for n in notices] == [
        ("webhook_endpoint.disabled", gone_event.endpoint_id)
    ]


class ByEvent(Receiver):
    """A receiver that answers each event (by ``webhook-id``) as told, whatever the order in
    which a batch's concurrent requests arrive."""

    def __init__(self, replies: dict[str, Reply]) -> None:
        super().__init__()
        self.by_event = replies

    def _record(self, request: Received) -> Reply:
        super()._record(request)
        return self.by_event.get(request.headers["webhook-id"], self.default)


async def _endpoint(sessionmaker: Sessionmaker, endpoint_id: object) -> WebhookEndpoint:
    async with sessionmaker() as session:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        return endpoint


async def _last_attempts(sessionmaker: Sessionmaker, ids: list[uuid.UUID]) -> None:
    async with session_scope(sessionmaker) as session:
        await session.execute(
            text("UPDATE webhook_events SET attempts = :n WHERE id = ANY(:ids)"),
            {"n": MAX_ATTEMPTS - 1, "ids": ids},
        )


async def test_in_one_batch_a_success_restarts_the_failure_count_in_event_order(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessionmaker,
    http: aiohttp.ClientSession,
) -> None:
    receiver = ByEvent({})
    receiver.start()
    try:
        await add_endpoint(client, tenant, receiver.url, ["product.created"])
        for _ in range(3):
            await client.post("/v1/products/", headers=tenant.headers, json=PRODUCT)
        first, second, third = await pending_events(sessionmaker, tenant.organization_id)
        await _last_attempts(sessionmaker, [first.id, third.id])
        async with session_scope(sessionmaker) as session:
            await session.execute(
                text("UPDATE webhook_endpoints SET consecutive_failures = 5 WHERE id = :id"),
                {"id": first.endpoint_id},
            )
        receiver.default = Reply(500)
        receiver.by_event[str(second.id)] = Reply(200)
        outcomes = await _batch(sessionmaker, [third.id, second.id, first.id], http)
    finally:
        receiver.stop()
    assert [outcomes[e.id].status for e in (first, second, third)] == [
        "failed",
        "delivered",
        "failed",
    ]
    # 5, then first failed (6), second got through (0), third failed (1).
    endpoint = await _endpoint(sessionmaker, first.endpoint_id)
    assert (endpoint.consecutive_failures, endpoint.enabled) == (1, True)


async def test_final_failures_in_one_batch_disable_the_endpoint_once(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessionmaker,
    http: aiohttp.ClientSession,
) -> None:
    with running_receiver() as receiver:
        receiver.default = Reply(500)
        await add_endpoint(client, tenant, receiver.url, ["product.created"])
        for _ in range(3):
            await client.post("/v1/products/", headers=tenant.headers, json=PRODUCT)
        events = await pending_events(sessionmaker, tenant.organization_id)
        await _last_attempts(sessionmaker, [e.id for e in events])
        settings = get_settings().model_copy(update={"webhooks_disable_after_failed_events": 2})
        outcomes = await _batch(sessionmaker, [e.id for e in events], http, settings)
    assert [o.status for o in outcomes.values()] == ["failed"] * 3
    endpoint = await _endpoint(sessionmaker, events[0].endpoint_id)
    assert endpoint.enabled is False and endpoint.consecutive_failures == 3
    assert "3 consecutive events failed" in (endpoint.disabled_reason or "")
    async with sessionmaker() as session:
        notices = await session.execute(
            select(OrganizationNotice.type).where(
                OrganizationNotice.organization_id == tenant.organization_id
            )
        )
        assert list(notices.scalars()) == ["webhook_endpoint.disabled"]
    for event in events:
        assert [d.attempt for d in await _deliveries(sessionmaker, event.id)] == [MAX_ATTEMPTS]


async def test_duplicate_ids_send_once_and_a_locked_event_is_left_to_its_holder(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: Sessionmaker,
    http: aiohttp.ClientSession,
) -> None:
    for _ in range(2):
        await _create_product(client, hooked)
    locked, free = await pending_events(sessionmaker, hooked.tenant.organization_id)
    async with sessionmaker() as holder:
        await holder.execute(
            text("SELECT id FROM webhook_events WHERE id = :id FOR UPDATE"), {"id": locked.id}
        )
        outcomes = await _batch(sessionmaker, [free.id, locked.id, free.id], http)
        await holder.rollback()
    assert outcomes[free.id].status == "delivered"
    assert outcomes[locked.id].status == "busy"
    assert outcomes[locked.id].next_at is not None
    assert [r.headers["webhook-id"] for r in receiver.received] == [str(free.id)]
    assert len(await _deliveries(sessionmaker, free.id)) == 1
    assert (await _batch(sessionmaker, [locked.id], http))[locked.id].status == "delivered"
    assert (await _batch(sessionmaker, [uuid.uuid4()], http)).popitem()[1].status == ("not_pending")


async def test_the_job_enqueues_retries_and_successors_with_their_endpoint(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: Sessionmaker,
) -> None:
    product = await _create_product(client, hooked)
    await client.patch(
        f"/v1/products/{product['id']}", headers=hooked.tenant.headers, json={"name": "Later"}
    )
    with running_receiver() as failing:
        failing.default = Reply(503)
        await add_endpoint(client, hooked.tenant, failing.url, ["product.created"])
        await _create_product(client, hooked)
        first, later, *others = await pending_events(sessionmaker, hooked.tenant.organization_id)
        [to_failing] = [e for e in others if e.endpoint_id != first.endpoint_id]
        # Jobs enqueued before endpoint_id was part of the payload.
        payloads = [DeliverWebhookEvent(event_id=e.id) for e in (first, later, to_failing)]
        async with sessionmaker() as session:
            since = await session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {QUEUE_TABLE}"))
            context = BatchContext((1, 2, 3), (1, 1, 1), 5, "test", session_factory=lambda: session)
            await deliver_webhook_event(context, payloads)
            jobs = await session.execute(
                text(
                    "SELECT convert_from(payload, 'UTF8'), execute_after - now() "
                    f"FROM {QUEUE_TABLE} WHERE id > :since"
                ),
                {"since": since},
            )
            followups = {
                event_id: (body, wait)
                for body, wait in ((json.loads(raw), wait) for raw, wait in jobs)
                for event_id in body["event_ids"]
            }
            await session.rollback()
    # "later" waited behind "first" in this batch: it comes back when the wait is over, and
    # gets no second job as first's successor. The failed one comes back after its delay.
    assert set(followups) == {str(later.id), str(to_failing.id)}
    body, wait = followups[str(later.id)]
    assert body["endpoint_id"] == str(first.endpoint_id)
    assert ORDERING_WAIT - timedelta(seconds=1) < wait <= ORDERING_WAIT
    body, wait = followups[str(to_failing.id)]
    assert body["endpoint_id"] == str(to_failing.endpoint_id)
    assert RETRY_SCHEDULE[0] - timedelta(seconds=1) < wait <= RETRY_SCHEDULE[0]


class _Data(BaseModel):
    id: str


@dataclass
class OwnDatabase:
    url: str
    sessionmaker: Sessionmaker


@pytest_asyncio.fixture
async def own_database(database_url: str) -> AsyncIterator[OwnDatabase]:
    """A database of its own: the worker below takes every job it finds."""
    name = f"kassa_webhook_{secrets.token_hex(4)}"
    url = await create_database(database_url, name)
    engine = create_engine(url, Settings(secret_key=TEST_SECRET_KEY))
    try:
        yield OwnDatabase(url, create_sessionmaker(engine))
    finally:
        await engine.dispose()
        await drop_database(database_url, name)


async def test_a_hanging_endpoint_holds_up_only_its_own_events(own_database: OwnDatabase) -> None:
    sessionmaker, url = own_database.sessionmaker, own_database.url
    with running_receiver() as hanging, running_receiver() as healthy:
        hanging.default = Reply(200, delay=3.0)
        async with session_scope(sessionmaker) as session:
            organization = await create_organization(session, "Hanging Co")
            for receiver in (hanging, healthy):
                await webhook_service.create_endpoint(
                    session,
                    organization.id,
                    WebhookEndpointCreate.model_validate(
                        {"url": receiver.url, "format": "raw", "events": ["product.created"]}
                    ),
                )
            for number in range(5):
                await webhook_service.emit(
                    session,
                    organization.id,
                    WebhookEventType.product_created,
                    f"product:{number}",
                    _Data(id=str(number)),
                )
            # One job from before endpoint_id and event_ids were in the payload (one event, in
            # event_id): it still decodes and runs.
            await session.execute(
                text(
                    f"UPDATE {QUEUE_TABLE} SET payload = convert_to(json_build_object('event_id',"
                    " convert_from(payload, 'UTF8')::json->'event_ids'->>0)::text, 'UTF8')"
                    f" WHERE id = (SELECT min(id) FROM {QUEUE_TABLE})"
                )
            )
        settings = get_settings().model_copy(update={"job_heartbeat_timeout_seconds": 30.0})
        worker = Worker(url, settings, concurrency=20, batch_size=10)
        started = time.monotonic()
        task = asyncio.create_task(worker.run())
        try:
            while len(healthy.received) < 5 or not await _succeeded(sessionmaker, healthy.url, 5):
                assert time.monotonic() - started < 2.5, (
                    f"healthy endpoint got {len(healthy.received)} of 5 while the other hangs"
                )
                await asyncio.sleep(0.05)
            # The hanging endpoint has its requests, still unanswered (the first may arrive
            # after the healthy endpoint's last on a busy host).
            while not hanging.received:
                assert time.monotonic() - started < 2.5, "the hanging endpoint got no request"
                await asyncio.sleep(0.05)
            assert await _succeeded(sessionmaker, hanging.url, 0)
        finally:
            worker.stop()
            await asyncio.wait_for(task, 30)
    assert await _succeeded(sessionmaker, hanging.url, 5)


async def test_one_transactions_events_go_in_one_job_per_endpoint(
    client: httpx.AsyncClient, hooked: Hooked, sessionmaker: Sessionmaker
) -> None:
    with running_receiver() as other:
        second = await add_endpoint(client, hooked.tenant, other.url, ["product.created"])
        async with sessionmaker() as session:
            since = await session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {QUEUE_TABLE}"))
            await webhook_service.emit_many(
                session,
                [
                    webhook_service.Emission(
                        hooked.tenant.organization_id,
                        WebhookEventType.product_created,
                        f"product:{number}",
                        _Data(id=str(number)),
                    )
                    for number in range(3)
                ],
            )
            jobs = await session.execute(
                text(f"SELECT convert_from(payload, 'UTF8') FROM {QUEUE_TABLE} WHERE id > :since"),
                {"since": since},
            )
            bodies = [json.loads(raw) for (raw,) in jobs]
            events = await session.execute(
                select(WebhookEvent.id, WebhookEvent.endpoint_id).where(
                    WebhookEvent.organization_id == hooked.tenant.organization_id
                )
            )
            by_endpoint: dict[str, set[str]] = {}
            for event_id, endpoint_id in events:
                by_endpoint.setdefault(str(endpoint_id), set()).add(str(event_id))
            await session.rollback()
    assert len(bodies) == 2
    assert {body["endpoint_id"] for body in bodies} == {hooked.endpoint["id"], second["id"]}
    for body in bodies:
        assert set(body["event_ids"]) == by_endpoint[body["endpoint_id"]]
        assert len(body["event_ids"]) == 3


async def _succeeded(sessionmaker: Sessionmaker, url: str, count: int) -> bool:
    async with sessionmaker() as session:
        result = await session.execute(
            select(WebhookEvent.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookEvent.endpoint_id)
            .where(WebhookEndpoint.url == url, WebhookEvent.status == "succeeded")
        )
        return len(result.all()) == count
