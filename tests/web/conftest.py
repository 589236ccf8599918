"""Browser tests of the hosted checkout: a live Kassa server (with its job worker, so payments
settle), a merchant organization with a webhook endpoint on a local receiver, and headless
Chromium driving the real pages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page
from standardwebhooks import Webhook

from tests.conftest import separate_database
from tests.support.browser import DESKTOP, launch_chromium
from tests.support.live_server import LiveKassa, create_organization, start_kassa
from tests.support.receiver import Receiver, running_receiver

JSON = dict[str, Any]
TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def kassa(database_url: str) -> Iterator[LiveKassa]:
    with separate_database(database_url, "web") as own_url:
        yield from _serve(own_url)


def _serve(database_url: str) -> Iterator[LiveKassa]:
    server = start_kassa(database_url, worker=True)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Shop:
    """The merchant: its API client and the receiver of its `order.paid` webhooks."""

    base_url: str
    api: httpx.AsyncClient
    receiver: Receiver
    webhook_secret: str

    async def product(self, price: JSON | None = None, **extra: Any) -> JSON:
        body = {
            "name": "Pro License",
            "description": "Lifetime license for one developer, with a year of updates.",
            "prices": [price or {"amount_type": "fixed", "price_amount": 2500}],
        } | extra
        response = await self.api.post("/v1/products/", json=body)
        assert response.status_code == 201, response.text
        product: JSON = response.json()
        return product

    async def checkout(self, product: JSON | None = None, **body: Any) -> JSON:
        product = product or await self.product()
        response = await self.api.post("/v1/checkouts/", json={"product_id": product["id"]} | body)
        assert response.status_code == 201, response.text
        checkout: JSON = response.json()
        return checkout

    async def orders(self, checkout_id: str) -> list[JSON]:
        response = await self.api.get("/v1/orders/", params={"checkout_id": checkout_id})
        assert response.status_code == 200, response.text
        items: list[JSON] = response.json()["items"]
        return items

    def paid_events(self, checkout_id: str) -> list[JSON]:
        """The verified `order.paid` webhooks received for this checkout."""
        verifier = Webhook(self.webhook_secret)
        events = []
        for request in list(self.receiver.received):
            payload = verifier.verify(request.body, request.headers)
            assert isinstance(payload, dict)
            if payload["type"] == "order.paid" and payload["data"]["checkout_id"] == checkout_id:
                events.append(payload)
        return events


@pytest_asyncio.fixture(scope="session")
async def shop(kassa: LiveKassa) -> AsyncIterator[Shop]:
    credentials = create_organization(kassa.database_url, "Acme Software")
    headers = {"Authorization": f"Bearer {credentials.token}"}
    with running_receiver() as receiver:
        async with httpx.AsyncClient(base_url=kassa.base_url, headers=headers) as api:
            endpoint = await api.post(
                "/v1/webhooks/endpoints",
                json={"url": receiver.url, "format": "raw", "events": ["order.paid"]},
            )
            assert endpoint.status_code == 201, endpoint.text
            yield Shop(kassa.base_url, api, receiver, endpoint.json()["secret"])


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with launch_chromium() as chromium:
        yield chromium


@pytest_asyncio.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh desktop-sized page; uncaught script errors fail the test."""
    context = await browser.new_context(viewport=DESKTOP, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        await context.close()
    assert not errors, f"uncaught errors in the page: {json.dumps(errors)}"
