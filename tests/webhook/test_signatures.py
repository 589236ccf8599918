"""Deliveries carry Standard Webhooks signatures that every verifier accepts, and payloads
shaped as the contract's webhook schemas."""

from __future__ import annotations

import asyncio
import json
import subprocess

import aiohttp
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from tests.compat.sdk_envs import DRIVERS_DIR, sdk_python
from tests.contract import assert_conforms
from tests.support.receiver import Receiver
from tests.webhook.conftest import Hooked, deliver_all

PRODUCT = {"name": "Signed", "prices": [{"amount_type": "fixed", "price_amount": 700}]}


async def _deliver_product_and_customer_events(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> list[dict[str, object]]:
    headers = hooked.tenant.headers
    product = (await client.post("/v1/products/", headers=headers, json=PRODUCT)).json()
    await client.patch(f"/v1/products/{product['id']}", headers=headers, json={"name": "Signed 2"})
    customer = (
        await client.post("/v1/customers/", headers=headers, json={"email": "sig@example.com"})
    ).json()
    await client.patch(f"/v1/customers/{customer['id']}", headers=headers, json={"name": "Sig"})
    await client.delete(f"/v1/customers/{customer['id']}", headers=headers)
    outcomes = await deliver_all(sessionmaker, hooked.tenant.organization_id, http)
    assert [o.status for o in outcomes] == ["delivered"] * 5
    return [
        {"secret": hooked.secret, "headers": r.headers, "body": r.text}
        for r in receiver.wait_for(5)
    ]


async def test_standardwebhooks_verifies_and_payloads_match_the_contract(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> None:
    deliveries = await _deliver_product_and_customer_events(
        client, hooked, receiver, sessionmaker, http
    )
    types = []
    schema = {
        "product.created": "WebhookProductCreatedPayload",
        "product.updated": "WebhookProductUpdatedPayload",
        "customer.created": "WebhookCustomerCreatedPayload",
        "customer.updated": "WebhookCustomerUpdatedPayload",
        "customer.deleted": "WebhookCustomerDeletedPayload",
    }
    for delivery in deliveries:
        payload = Webhook(hooked.secret).verify(delivery["body"], delivery["headers"])  # type: ignore[arg-type]
        assert set(payload) == {"type", "timestamp", "api_version", "data"}
        assert_conforms(schema[payload["type"]], payload)
        types.append(payload["type"])
    assert types == list(schema)
    deleted = json.loads(str(deliveries[-1]["body"]))["data"]
    assert deleted["deleted_at"] is not None


async def test_a_forged_signature_is_rejected(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> None:
    deliveries = await _deliver_product_and_customer_events(
        client, hooked, receiver, sessionmaker, http
    )
    tampered = dict(deliveries[0])
    tampered["body"] = str(tampered["body"]).replace("Signed", "Forged")
    with pytest.raises(Exception, match="signature"):
        Webhook(hooked.secret).verify(tampered["body"], tampered["headers"])  # type: ignore[arg-type]


@pytest.mark.compat
@pytest.mark.parametrize("generation", ["1.0", "0.32"])
async def test_polar_sdk_helpers_verify_and_parse(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    generation: str,
) -> None:
    deliveries = await _deliver_product_and_customer_events(
        client, hooked, receiver, sessionmaker, http
    )
    forged = {**deliveries[0], "secret": "whsec_" + "A" * 43}
    driver = sdk_python(generation)
    result = await asyncio.to_thread(
        subprocess.run,
        [str(driver), str(DRIVERS_DIR / "verify_webhook.py")],
        input=json.dumps([*deliveries, forged]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    verdicts = json.loads(result.stdout)
    assert [v["ok"] for v in verdicts] == [True] * 5 + [False], verdicts
    assert "product.created" in verdicts[0]["type"]
