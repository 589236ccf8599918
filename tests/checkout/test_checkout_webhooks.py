"""The webhooks a sale emits, in order, each shaped as the contract's payload for its type."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.kit import clock
from kassa.models import WebhookEvent
from tests.checkout.conftest import (
    RunJobs,
    confirm,
    create_checkout,
    create_endpoint,
    create_product,
)
from tests.conftest import Tenant
from tests.contract import schema_errors

TYPES = [
    "checkout.created",
    "checkout.updated",
    "checkout.expired",
    "order.created",
    "order.paid",
    "order.updated",
]
PAYLOAD_SCHEMAS = {
    "checkout.created": "WebhookCheckoutCreatedPayload",
    "checkout.updated": "WebhookCheckoutUpdatedPayload",
    "checkout.expired": "WebhookCheckoutExpiredPayload",
    "order.created": "WebhookOrderCreatedPayload",
    "order.paid": "WebhookOrderPaidPayload",
    "order.updated": "WebhookOrderUpdatedPayload",
}


async def _events(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> list[tuple[str, dict[str, object]]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            select(WebhookEvent.type, WebhookEvent.payload)
            .where(WebhookEvent.organization_id == tenant.organization_id)
            .order_by(WebhookEvent.sequence)
        )
        return [(type_, json.loads(payload)) for type_, payload in rows]


async def test_a_sale_emits_its_events_in_order(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: RunJobs,
) -> None:
    await create_endpoint(client, tenant, TYPES)
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    assert (await confirm(client, checkout)).status_code == 200

    async def settled() -> bool:
        return len(await _events(sessionmaker, tenant)) >= 5

    await run_jobs(settled)
    orders = await client.get(
        "/v1/orders/", headers=tenant.headers, params={"checkout_id": checkout["id"]}
    )
    [order] = orders.json()["items"]
    updated = await client.patch(
        f"/v1/orders/{order['id']}", headers=tenant.headers, json={"billing_name": "Ada Ltd"}
    )
    assert updated.status_code == 200 and updated.json()["billing_name"] == "Ada Ltd"

    events = await _events(sessionmaker, tenant)
    assert [type_ for type_, _ in events] == [
        "checkout.created",
        "checkout.updated",  # confirmed
        "order.created",
        "order.paid",
        "checkout.updated",  # succeeded
        "order.updated",
    ]
    for type_, payload in events:
        assert payload["type"] == type_
        assert schema_errors(PAYLOAD_SCHEMAS[type_], payload) == [], type_
    assert [p["data"]["status"] for t, p in events if t == "checkout.updated"] == [
        "confirmed",
        "succeeded",
    ]
    assert events[3][1]["data"]["id"] == order["id"]


async def test_open_checkouts_expire(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from kassa.checkout.jobs import expire_checkouts
    from kassa.jobs.registry import JobContext

    await create_endpoint(client, tenant, TYPES)
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    clock.advance(timedelta(minutes=61))
    try:
        context = JobContext(0, 1, 1, clock.utc_now(), "test", session_factory=sessionmaker)
        await expire_checkouts(context)
        await context.session.commit()
        await context.session.close()
    finally:
        clock.reset()
    got = await client.get(f"/v1/checkouts/{checkout['id']}", headers=tenant.headers)
    assert got.json()["status"] == "expired"
    types = [type_ for type_, _ in await _events(sessionmaker, tenant)]
    assert types == ["checkout.created", "checkout.expired", "checkout.updated"]
