"""The Stripe webhook endpoint (in-process app configured for Stripe): verified events are
stored once; anything that fails verification is refused with 400 and stores nothing."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import func, select

from kassa.app import create_app
from kassa.config import Settings
from kassa.models import ProcessorEvent
from tests.conftest import TEST_SECRET_KEY
from tests.support.fake_stripe import TEST_WEBHOOK_SECRET, stripe_signature

PATH = "/v1/integrations/stripe/webhook"


def stripe_settings(data_dir: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "secret_key": TEST_SECRET_KEY,
        "data_dir": data_dir,
        "payment_processor": "stripe",
        "stripe_secret_key": "sk_test_unused",
        "stripe_webhook_secret": TEST_WEBHOOK_SECRET,
    }
    return Settings(**(values | changes))


@pytest_asyncio.fixture(scope="module")
async def stripe_app(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    app = create_app(stripe_settings(tmp_path_factory.mktemp("stripe")), database_url)
    yield app
    await app.state.engine.dispose()


@pytest_asyncio.fixture
async def stripe_client(stripe_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=stripe_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as http:
        yield http


def new_event(event_type: str = "payment_intent.created") -> dict[str, Any]:
    # A type Kassa stores but does not act on: no settlement job runs into an unknown intent.
    intent = {"id": f"pi_{secrets.token_hex(8)}", "object": "payment_intent", "amount": 100}
    return {
        "id": f"evt_{secrets.token_hex(8)}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": intent},
    }


def signed(body: bytes, **kw: Any) -> dict[str, str]:
    return {"Stripe-Signature": stripe_signature(body, kw.pop("secret", TEST_WEBHOOK_SECRET), **kw)}


async def stored(app: FastAPI, event_id: str) -> int:
    async with app.state.sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ProcessorEvent)
            .where(ProcessorEvent.processor == "stripe", ProcessorEvent.event_id == event_id)
        )
    return int(count or 0)


async def test_a_signed_event_is_stored_once(
    stripe_client: httpx.AsyncClient, stripe_app: FastAPI
) -> None:
    event = new_event()
    body = json.dumps(event).encode()
    first = await stripe_client.post(PATH, content=body, headers=signed(body))
    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    again_body = json.dumps(event, indent=1).encode()  # a redelivery, freshly signed
    again = await stripe_client.post(PATH, content=again_body, headers=signed(again_body))
    assert (again.status_code, again.json()) == (200, {"received": True, "duplicate": True})
    assert await stored(stripe_app, event["id"]) == 1
    async with stripe_app.state.sessionmaker() as session:
        row = await session.scalar(
            select(ProcessorEvent).where(ProcessorEvent.event_id == event["id"])
        )
    assert row is not None and row.payload == event and row.type == event["type"]


def _forgeries() -> list[Any]:
    body = json.dumps(new_event()).encode()
    tampered = body.replace(b'"amount": 100', b'"amount": 1')
    now = int(time.time())
    cases = {
        "wrong-secret": (body, signed(body, secret="whsec_not_the_secret")),
        "tampered-body": (tampered, signed(body)),
        "missing-header": (body, {}),
        "stale-timestamp": (body, signed(body, timestamp=now - 301)),
        "garbage-header": (body, {"Stripe-Signature": "nonsense"}),
        "no-v1-scheme": (body, {"Stripe-Signature": f"t={now},v0=abc"}),
    }
    return [pytest.param(*case, id=name) for name, case in cases.items()]


@pytest.mark.parametrize(("body", "headers"), _forgeries())
async def test_forgeries_are_refused_and_store_nothing(
    stripe_client: httpx.AsyncClient,
    stripe_app: FastAPI,
    body: bytes,
    headers: dict[str, str],
) -> None:
    response = await stripe_client.post(PATH, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "InvalidSignature"
    assert response.json()["detail"]
    assert await stored(stripe_app, json.loads(body)["id"]) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"type": "x"}',
        b'{"id": 1, "type": "x"}',
        b'{"id": "evt_x"}',
        json.dumps({"id": "e" * 129, "type": "x"}).encode(),
        b'{"id": "evt_nul", "type": "x", "data": "\\u0000"}',
        b'{"id": "evt_nan", "type": "x", "data": NaN}',
        b'{"id": "evt_surrogate", "type": "x", "data": "\\ud800"}',
    ],
)
async def test_signed_but_invalid_payloads_are_400(
    stripe_client: httpx.AsyncClient, body: bytes
) -> None:
    response = await stripe_client.post(PATH, content=body, headers=signed(body))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "InvalidPayload"


async def test_not_found_unless_stripe_is_the_processor(client: httpx.AsyncClient) -> None:
    body = json.dumps(new_event()).encode()
    response = await client.post(PATH, content=body, headers=signed(body))
    assert response.status_code == 404
    assert response.json()["error"] == "ResourceNotFound"


async def test_unavailable_without_a_signing_secret(database_url: str, tmp_path: Path) -> None:
    app = create_app(stripe_settings(tmp_path, stripe_webhook_secret=None), database_url)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as http:
            body = json.dumps(new_event()).encode()
            response = await http.post(PATH, content=body, headers=signed(body))
    finally:
        await app.state.engine.dispose()
    assert response.status_code == 503
    assert response.json()["error"] == "ServiceUnavailable"


async def test_too_large_is_413(stripe_client: httpx.AsyncClient) -> None:
    body = b"{" + b" " * (1024 * 1024) + b"}"
    response = await stripe_client.post(PATH, content=body, headers=signed(body))
    assert response.status_code == 413


async def test_described_as_a_kassa_extension(stripe_client: httpx.AsyncClient) -> None:
    operation = (await stripe_client.get("/openapi.json")).json()["paths"][PATH]["post"]
    assert operation["x-kassa-extension"] is True
