"""Kill real processes at the worst moments; every committed change's webhook still arrives
(at least once, always with the same webhook-id) and no rolled-back change's ever does."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.conftest import fetch_rows
from tests.support.live_server import create_organization, spawn_kassa, start_kassa
from tests.support.receiver import Receiver, Reply, running_receiver

pytestmark = [pytest.mark.slow]

WORKER_ENV = {"KASSA_JOB_HEARTBEAT_TIMEOUT_SECONDS": "3"}


@pytest.fixture
def slow_receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        receiver.default = Reply(200, delay=0.3)
        yield receiver


def _fetch(database_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    return asyncio.run(fetch_rows(database_url, query, *args))


def _hammer(base_url: str, token: str, stop: threading.Event, acknowledged: list[str]) -> None:
    """Create products one after another until the server dies; note each acknowledged one."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {"name": "Fault product", "prices": [{"amount_type": "fixed", "price_amount": 100}]}
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            try:
                response = client.post(f"{base_url}/v1/products/", headers=headers, json=body)
            except httpx.HTTPError:
                return
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])


# Deliveries run in batches of the jobs a worker dequeues together: a few at a time, and a
# larger batch, which the kill interrupts with many events on the wire in one transaction.
WORKER_ARGS = {
    "small-batches": ["--concurrency", "4"],
    "large-batches": ["--concurrency", "40", "--batch-size", "20"],
}


@pytest.mark.parametrize("worker_args", list(WORKER_ARGS.values()), ids=list(WORKER_ARGS))
def test_kill_api_after_commit_and_worker_mid_delivery(
    database_url: str, slow_receiver: Receiver, worker_args: list[str]
) -> None:
    server = start_kassa(database_url)
    worker = spawn_kassa(["worker", *worker_args], database_url, env=WORKER_ENV)
    try:
        credentials = create_organization(database_url, "Fault Co")
        headers = {"Authorization": f"Bearer {credentials.token}"}
        created = httpx.post(
            f"{server.base_url}/v1/webhooks/endpoints",
            headers=headers,
            json={"url": slow_receiver.url, "format": "raw", "events": ["product.created"]},
        )
        assert created.status_code == 201, created.text

        # Four clients create products back to back; the API process dies while they flow, so
        # some transactions committed (acknowledged or not) and others were cut mid-way.
        acknowledged: list[str] = []
        stop = threading.Event()
        hammers = [
            threading.Thread(
                target=_hammer, args=(server.base_url, credentials.token, stop, acknowledged)
            )
            for _ in range(4)
        ]
        for hammer in hammers:
            hammer.start()
        while len(acknowledged) < 20:
            time.sleep(0.005)
        server.kill()
        stop.set()
        for hammer in hammers:
            hammer.join(timeout=10)

        # Kill the worker while a delivery is on the wire (the receiver is slow to answer).
        slow_receiver.wait_for(2, timeout=30)
        worker.kill()
        worker = spawn_kassa(["worker", *worker_args], database_url, env=WORKER_ENV)

        committed = {
            str(row["id"])
            for row in _fetch(
                database_url,
                "SELECT id FROM products WHERE organization_id = $1",
                credentials.organization_id,
            )
        }
        assert set(acknowledged) <= committed
        events = {
            str(row["id"]): json.loads(row["payload"])["data"]["id"]
            for row in _fetch(
                database_url,
                "SELECT id, payload FROM webhook_events WHERE organization_id = $1",
                credentials.organization_id,
            )
        }
        assert sorted(events.values()) == sorted(committed)

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            delivered = {r.headers["webhook-id"] for r in slow_receiver.received}
            if delivered >= set(events):
                break
            time.sleep(0.2)
        received = slow_receiver.received
        delivered_ids = {r.headers["webhook-id"] for r in received}
        assert delivered_ids == set(events), "a committed change's webhook never arrived"
        for request in received:
            product_id = json.loads(request.body)["data"]["id"]
            # The same event always travels under the same webhook-id, and only committed
            # products are ever announced.
            assert events[request.headers["webhook-id"]] == product_id
            assert product_id in committed
    finally:
        worker.stop()
        server.stop()
