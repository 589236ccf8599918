"""Sending a batch's requests: a cap per origin, and timeouts that start once a request has its
place rather than while it queues behind slower ones."""

from __future__ import annotations

import aiohttp
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.kit.db import session_scope
from kassa.webhook import sending
from kassa.webhook.delivery import deliver_events
from tests.support.receiver import Receiver, Reply
from tests.webhook.conftest import Hooked, pending_events, settings_with

PRODUCT = {"name": "Sent", "prices": [{"amount_type": "fixed", "price_amount": 100}]}


async def test_requests_to_one_origin_queue_for_a_place_without_timing_out(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sending, "_origins", sending._Origins(2))
    receiver.default = Reply(200, delay=1.0)
    for _ in range(4):
        response = await client.post("/v1/products/", headers=hooked.tenant.headers, json=PRODUCT)
        assert response.status_code == 201
    events = await pending_events(sessionmaker, hooked.tenant.organization_id)
    async with session_scope(sessionmaker) as session:
        outcomes = await deliver_events(
            session,
            [e.id for e in events],
            http,
            # More than one reply takes, with room for a loaded machine; less than two replies take.
            settings_with(webhooks_timeout_seconds=1.5),
        )
    assert [o.status for o in outcomes.values()] == ["delivered"] * 4
    arrivals = sorted(r.at for r in receiver.received)
    # Two at once, then the other two once the first ones were answered.
    assert arrivals[1] - arrivals[0] < 0.5
    assert arrivals[2] - arrivals[0] >= 0.9
    assert sending._origins._slots == {}  # nothing left behind
