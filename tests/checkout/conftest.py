from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from kassa.config import Settings
from kassa.jobs.worker import Worker
from tests.conftest import Tenant

JSON = dict[str, Any]
ADDRESS = {"country": "DE"}
PAY = {
    "customer_email": "buyer@example.com",
    "customer_name": "Ada Buyer",
    "customer_billing_address": ADDRESS,
    "confirmation_token_id": "pm_card_visa",
}


async def create_product(
    client: httpx.AsyncClient, tenant: Tenant, price: JSON | None = None, **extra: Any
) -> JSON:
    body = {
        "name": "Pro License",
        "prices": [
            price or {"amount_type": "fixed", "price_amount": 2500, "price_currency": "usd"}
        ],
    } | extra
    response = await client.post("/v1/products/", headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    product: JSON = response.json()
    return product


async def create_checkout(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> JSON:
    response = await client.post("/v1/checkouts/", headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    checkout: JSON = response.json()
    return checkout


async def create_endpoint(
    client: httpx.AsyncClient,
    tenant: Tenant,
    events: list[str],
    url: str = "https://hooks.example/kassa",
) -> JSON:
    """A raw-format webhook endpoint of the tenant, subscribed to ``events``."""
    response = await client.post(
        "/v1/webhooks/endpoints",
        headers=tenant.headers,
        json={"url": url, "format": "raw", "events": events},
    )
    assert response.status_code == 201, response.text
    endpoint: JSON = response.json()
    return endpoint


async def confirm(client: httpx.AsyncClient, checkout: JSON, **body: Any) -> httpx.Response:
    return await client.post(
        f"/v1/checkouts/client/{checkout['client_secret']}/confirm", json=PAY | body
    )


RunJobs = Callable[[Callable[[], Awaitable[bool]]], Awaitable[None]]


@pytest.fixture
def run_jobs(database_url: str, settings: Settings) -> RunJobs:
    """Run a real job worker until ``done()`` holds (or fail after a timeout)."""

    async def run(done: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
        worker = Worker(database_url, settings, concurrency=4, batch_size=4)
        task = asyncio.create_task(worker.run())
        deadline = time.monotonic() + within
        try:
            while not await done():
                assert time.monotonic() < deadline, "the jobs did not finish in time"
                assert not task.done(), "the worker stopped"
                await asyncio.sleep(0.05)
        finally:
            worker.stop()
            await task

    return run
