"""The worker settling a payment is SIGKILLed mid-handling, after it wrote part of the order.
After a restart exactly one order exists for the checkout, and `order.paid` was delivered."""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg
import httpx
import pytest

from tests.conftest import _libpq_kwargs, fetch_rows
from tests.fault.test_webhook_faults import WORKER_ENV
from tests.support.live_server import create_organization, spawn_kassa, start_kassa
from tests.support.receiver import running_receiver

pytestmark = [pytest.mark.slow]

PAY = {
    "customer_email": "fault@example.com",
    "customer_billing_address": {"country": "NL"},
    "confirmation_token_id": "pm_card_visa",
}


async def _hold_order_items(database_url: str) -> asyncpg.Connection:
    """A transaction that blocks every write to order_items: the settlement job inserts its
    order, then waits on this lock with the order row written but not committed."""
    connection = await asyncpg.connect(**_libpq_kwargs(database_url))  # type: ignore[arg-type]
    await connection.execute("BEGIN")
    await connection.execute("LOCK TABLE order_items IN ACCESS EXCLUSIVE MODE")
    return connection


async def _wait_for_blocked_insert(database_url: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        rows = await fetch_rows(
            database_url,
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query ILIKE '%INSERT INTO order_items%'",
        )
        if rows:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the settlement job never reached the order insert")


async def _shop(api: httpx.AsyncClient, receiver_url: str, name: str, amount: int) -> str:
    """An endpoint for ``order.paid`` at the receiver, and a product's id."""
    endpoint = await api.post(
        "/v1/webhooks/endpoints",
        json={"url": receiver_url, "format": "raw", "events": ["order.paid"]},
    )
    assert endpoint.status_code == 201, endpoint.text
    product = await api.post(
        "/v1/products/",
        json={"name": name, "prices": [{"amount_type": "fixed", "price_amount": amount}]},
    )
    assert product.status_code == 201, product.text
    product_id: str = product.json()["id"]
    return product_id


@pytest.mark.asyncio
async def test_worker_killed_mid_settlement(database_url: str) -> None:
    server = start_kassa(database_url)
    worker = spawn_kassa(["worker", "--concurrency", "4"], database_url, env=WORKER_ENV)
    lock: asyncpg.Connection | None = None
    try:
        with running_receiver() as receiver:
            credentials = create_organization(database_url, "Settlement Fault Co")
            headers = {"Authorization": f"Bearer {credentials.token}"}
            async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as api:
                product_id = await _shop(api, receiver.url, "Fault", 700)
                checkout = (
                    await api.post("/v1/checkouts/", json={"product_id": product_id})
                ).json()

                lock = await _hold_order_items(database_url)
                confirmed = await api.post(
                    f"/v1/checkouts/client/{checkout['client_secret']}/confirm", json=PAY
                )
                assert confirmed.status_code == 200, confirmed.text
                await _wait_for_blocked_insert(database_url)
                worker.kill()
                await lock.execute("ROLLBACK")
                await lock.close()
                lock = None
                worker = spawn_kassa(["worker", "--concurrency", "4"], database_url, env=WORKER_ENV)

                deliveries = await asyncio.to_thread(receiver.wait_for, 1, 60)
                await asyncio.sleep(1.0)  # room for a (wrong) second delivery to show up
                orders = await fetch_rows(
                    database_url, "SELECT id FROM orders WHERE checkout_id = $1", checkout["id"]
                )
                assert len(orders) == 1
                paid = [json.loads(r.body) for r in receiver.received]
                assert {p["type"] for p in paid} == {"order.paid"}
                assert {p["data"]["id"] for p in paid} == {str(orders[0]["id"])}
                assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
                assert deliveries
                state = await api.get(f"/v1/checkouts/{checkout['id']}")
                assert state.json()["status"] == "succeeded"
                payments = await fetch_rows(
                    database_url,
                    "SELECT status FROM payments WHERE checkout_id = $1",
                    checkout["id"],
                )
                assert [row["status"] for row in payments] == ["succeeded"]
    finally:
        if lock is not None:
            await lock.close()
        worker.stop()
        server.stop()


@pytest.mark.asyncio
async def test_two_workers_drain_one_inbox_and_one_is_killed_midway(database_url: str) -> None:
    """Sales confirmed while two workers drain the inbox, one of them SIGKILLed halfway:
    every checkout gets exactly one order, and every order's `order.paid` arrives."""
    server = start_kassa(database_url)
    workers = [
        spawn_kassa(["worker", "--concurrency", "4"], database_url, env=WORKER_ENV)
        for _ in range(2)
    ]
    try:
        with running_receiver() as receiver:
            credentials = create_organization(database_url, "Two Workers Co")
            headers = {"Authorization": f"Bearer {credentials.token}"}
            async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as api:
                product_id = await _shop(api, receiver.url, "Two", 900)
                checkouts = [
                    (await api.post("/v1/checkouts/", json={"product_id": product_id})).json()
                    for _ in range(40)
                ]

                async def pay(checkout: dict[str, str]) -> None:
                    response = await api.post(
                        f"/v1/checkouts/client/{checkout['client_secret']}/confirm", json=PAY
                    )
                    assert response.status_code == 200, response.text

                await asyncio.gather(*(pay(c) for c in checkouts[:20]))
                workers[0].kill()
                await asyncio.gather(*(pay(c) for c in checkouts[20:]))

                await asyncio.to_thread(receiver.wait_for, 40, 60)
                await asyncio.sleep(1.0)
                ids = [c["id"] for c in checkouts]
                orders = await fetch_rows(
                    database_url,
                    "SELECT checkout_id::text AS checkout_id, id::text AS id FROM orders "
                    "WHERE checkout_id::text = ANY($1::text[])",
                    ids,
                )
                assert sorted(row["checkout_id"] for row in orders) == sorted(ids)
                by_webhook: dict[str, str] = {}
                for request in receiver.received:
                    body = json.loads(request.body)
                    assert body["type"] == "order.paid"
                    # Delivered at least once; a repeat carries the same webhook-id.
                    assert (
                        by_webhook.setdefault(request.headers["webhook-id"], body["data"]["id"])
                        == (body["data"]["id"])
                    )
                assert sorted(by_webhook.values()) == sorted(row["id"] for row in orders)
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
