"""The webhook endpoint API: CRUD, secret rotation, the SSRF guard, the delivery log and
redelivery."""

from __future__ import annotations

import aiohttp
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from kassa.config import get_settings
from tests.conftest import Tenant, TenantFactory
from tests.support.receiver import Receiver, Reply
from tests.webhook.conftest import Hooked, add_endpoint, deliver_all, pending_events

PRODUCT = {"name": "Hooked", "prices": [{"amount_type": "fixed", "price_amount": 100}]}


async def test_crud(client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver) -> None:
    endpoint = await add_endpoint(client, tenant, receiver.url, ["product.created"], "slack")
    assert str(endpoint["secret"]).startswith("whsec_")
    assert endpoint["enabled"] is True and endpoint["format"] == "slack"
    path = f"/v1/webhooks/endpoints/{endpoint['id']}"

    updated = await client.patch(
        path,
        headers=tenant.headers,
        json={"events": ["product.updated", "product.created"], "name": "Ops", "enabled": False},
    )
    assert updated.status_code == 200
    assert updated.json()["events"] == ["product.created", "product.updated"]
    assert updated.json()["enabled"] is False

    rotated = await client.patch(f"{path}/secret", headers=tenant.headers)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != endpoint["secret"]

    listed = await client.get("/v1/webhooks/endpoints", headers=tenant.headers)
    assert [e["id"] for e in listed.json()["items"]] == [endpoint["id"]]
    assert (await client.delete(path, headers=tenant.headers)).status_code == 204
    assert (await client.get(path, headers=tenant.headers)).status_code == 404
    listed = await client.get("/v1/webhooks/endpoints", headers=tenant.headers)
    assert listed.json()["pagination"]["total_count"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url", "format": "raw", "events": []}, "url"),
        ({"url": "ftp://example.com/x", "format": "raw", "events": []}, "url"),
        ({"url": "https://example.com/x", "format": "xml", "events": []}, "format"),
        ({"url": "https://example.com/x", "format": "raw", "events": ["nope"]}, "events"),
        ({"format": "raw", "events": []}, "url"),
    ],
)
async def test_invalid_endpoints_are_422(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, object], field: str
) -> None:
    response = await client.post("/v1/webhooks/endpoints", headers=tenant.headers, json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"][0]["loc"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:192.168.0.1]/hook",
    ],
)
async def test_private_addresses_are_refused(
    client: httpx.AsyncClient, tenant: Tenant, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhooks_allow_private", False)
    response = await client.post(
        "/v1/webhooks/endpoints",
        headers=tenant.headers,
        json={"url": url, "format": "raw", "events": ["product.created"]},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "url"]


async def test_delivery_to_a_private_address_is_refused_at_send_time(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await client.post("/v1/products/", headers=hooked.tenant.headers, json=PRODUCT)
    settings = get_settings().model_copy(update={"webhooks_allow_private": False})
    outcomes = await deliver_all(sessionmaker, hooked.tenant.organization_id, http, settings)
    assert [o.status for o in outcomes] == ["retry_scheduled"]
    assert receiver.received == []
    log = await client.get("/v1/webhooks/deliveries", headers=hooked.tenant.headers)
    assert log.json()["items"][0]["response"].startswith("Refused")


async def test_rotated_secret_signs_new_deliveries(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> None:
    rotated = await client.patch(
        f"/v1/webhooks/endpoints/{hooked.endpoint_id}/secret", headers=hooked.tenant.headers
    )
    await client.post("/v1/products/", headers=hooked.tenant.headers, json=PRODUCT)
    await deliver_all(sessionmaker, hooked.tenant.organization_id, http)
    [request] = receiver.wait_for(1)
    Webhook(rotated.json()["secret"]).verify(request.body, request.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(hooked.secret).verify(request.body, request.headers)


async def test_delivery_log_and_redelivery(
    client: httpx.AsyncClient,
    hooked: Hooked,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
) -> None:
    headers = hooked.tenant.headers
    receiver.replies = [Reply(500, b"down")]
    await client.post("/v1/products/", headers=headers, json=PRODUCT)
    await client.post("/v1/customers/", headers=headers, json={"email": "log@example.com"})
    await deliver_all(sessionmaker, hooked.tenant.organization_id, http)

    log = (await client.get("/v1/webhooks/deliveries", headers=headers)).json()
    assert log["pagination"]["total_count"] == 2
    failed = await client.get(
        "/v1/webhooks/deliveries", headers=headers, params={"http_code_class": "5xx"}
    )
    [entry] = failed.json()["items"]
    assert entry["succeeded"] is False and entry["http_code"] == 500
    assert entry["response"] == "down"
    assert entry["webhook_event"]["type"] == "product.created"
    by_type = await client.get(
        "/v1/webhooks/deliveries", headers=headers, params={"event_type": "customer.created"}
    )
    assert [i["http_code"] for i in by_type.json()["items"]] == [200]
    by_query = await client.get(
        "/v1/webhooks/deliveries", headers=headers, params={"query": "log@example.com"}
    )
    assert by_query.json()["pagination"]["total_count"] == 1

    event_id = entry["webhook_event"]["id"]
    redelivered = await client.post(f"/v1/webhooks/events/{event_id}/redeliver", headers=headers)
    assert redelivered.status_code == 202
    [event] = await pending_events(sessionmaker, hooked.tenant.organization_id)
    assert str(event.id) == event_id
    await deliver_all(sessionmaker, hooked.tenant.organization_id, http)
    assert [r.headers["webhook-id"] for r in receiver.received].count(event_id) == 2


async def test_other_organizations_cannot_see_or_touch_endpoints(
    client: httpx.AsyncClient, hooked: Hooked, make_tenant: TenantFactory
) -> None:
    intruder = await make_tenant()
    path = f"/v1/webhooks/endpoints/{hooked.endpoint_id}"
    assert (await client.get(path, headers=intruder.headers)).status_code == 404
    assert (await client.patch(path, headers=intruder.headers, json={})).status_code == 404
    assert (await client.patch(f"{path}/secret", headers=intruder.headers)).status_code == 404
    assert (await client.delete(path, headers=intruder.headers)).status_code == 404
    listed = await client.get("/v1/webhooks/endpoints", headers=intruder.headers)
    assert listed.json()["items"] == []
