"""A process keeps an organization's products and webhook endpoints between requests; any
change, even one made by hand in SQL, is seen by the very next request (``kit.versioned``)."""

from __future__ import annotations

import httpx

from tests.checkout.conftest import PAY, create_checkout, create_endpoint, create_product
from tests.conftest import Tenant, fetch_rows

EVENTS = ["checkout.created"]
HOOK = "http://127.0.0.1:9/hook"  # nothing listens: only the recorded events matter


async def _events(database_url: str, tenant: Tenant, event_type: str) -> int:
    rows = await fetch_rows(
        database_url,
        "SELECT count(*) FROM webhook_events WHERE organization_id = $1 AND type = $2",
        tenant.organization_id,
        event_type,
    )
    return int(rows[0][0])


async def test_catalog_changes_made_in_sql_reach_the_next_checkout(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    product = await create_product(client, tenant)
    first = await create_checkout(client, tenant, product_id=product["id"])
    assert first["amount"] == 2500

    await fetch_rows(
        database_url,
        "UPDATE product_prices SET price_amount = 3100 WHERE product_id = $1",
        product["id"],
    )
    repriced = await create_checkout(client, tenant, product_id=product["id"])
    assert repriced["amount"] == 3100
    assert repriced["product"]["prices"][0]["price_amount"] == 3100

    await fetch_rows(
        database_url, "UPDATE products SET is_archived = true WHERE id = $1", product["id"]
    )
    refused = await client.post(
        "/v1/checkouts/", headers=tenant.headers, json={"product_id": product["id"]}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "product_id"]


async def test_the_customer_side_sees_catalog_changes_too(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    product = await create_product(client, tenant)
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    client_url = f"/v1/checkouts/client/{checkout['client_secret']}"
    assert (await client.get(client_url)).json()["product"]["name"] == "Pro License"

    response = await client.patch(
        f"/v1/products/{product['id']}", headers=tenant.headers, json={"name": "Pro License II"}
    )
    assert response.status_code == 200, response.text
    assert (await client.get(client_url)).json()["product"]["name"] == "Pro License II"


async def test_endpoints_added_or_disabled_apply_to_the_next_event(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    product = await create_product(client, tenant)
    await create_checkout(client, tenant, product_id=product["id"])  # no endpoint yet: cached
    assert await _events(database_url, tenant, "checkout.created") == 0

    endpoint_id = (await create_endpoint(client, tenant, EVENTS, HOOK))["id"]
    await create_checkout(client, tenant, product_id=product["id"])
    assert await _events(database_url, tenant, "checkout.created") == 1

    await fetch_rows(
        database_url, "UPDATE webhook_endpoints SET enabled = false WHERE id = $1", endpoint_id
    )
    await create_checkout(client, tenant, product_id=product["id"])
    assert await _events(database_url, tenant, "checkout.created") == 1

    await fetch_rows(
        database_url, "UPDATE webhook_endpoints SET enabled = true WHERE id = $1", endpoint_id
    )
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    assert await _events(database_url, tenant, "checkout.created") == 2
    confirmed = await client.post(
        f"/v1/checkouts/client/{checkout['client_secret']}/confirm", json=PAY
    )
    assert confirmed.status_code == 200, confirmed.text


async def test_failure_counts_do_not_invalidate_the_cached_endpoints(
    client: httpx.AsyncClient, tenant: Tenant, database_url: str
) -> None:
    await create_endpoint(client, tenant, EVENTS, HOOK)
    before = await fetch_rows(
        database_url,
        "SELECT webhooks_version FROM organizations WHERE id = $1",
        tenant.organization_id,
    )
    await fetch_rows(
        database_url,
        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 "
        "WHERE organization_id = $1",
        tenant.organization_id,
    )
    after = await fetch_rows(
        database_url,
        "SELECT webhooks_version FROM organizations WHERE id = $1",
        tenant.organization_id,
    )
    assert after[0][0] == before[0][0] > 0
