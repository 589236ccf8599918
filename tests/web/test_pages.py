"""The checkout pages as the server renders them (no browser): content before any script
runs, escaping, error pages, headers and static files."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.kit.clock import utc_now
from kassa.kit.db import session_scope
from kassa.models import Checkout
from tests.conftest import Tenant

JSON = dict[str, Any]


async def make_checkout(
    client: httpx.AsyncClient,
    tenant: Tenant,
    price: JSON | None = None,
    product: JSON | None = None,
    **body: Any,
) -> JSON:
    product_body = {
        "name": "Pro License",
        "description": "Lifetime license.\nOne developer.",
        "prices": [price or {"amount_type": "fixed", "price_amount": 2500}],
    } | (product or {})
    created = await client.post("/v1/products/", headers=tenant.headers, json=product_body)
    assert created.status_code == 201, created.text
    response = await client.post(
        "/v1/checkouts/", headers=tenant.headers, json={"product_id": created.json()["id"]} | body
    )
    assert response.status_code == 201, response.text
    checkout: JSON = response.json()
    return checkout


def page_path(checkout: JSON) -> str:
    return f"/checkout/{checkout['client_secret']}"


def page_data(html: str) -> JSON:
    match = re.search(r'<script type="application/json" id="checkout-data">(.*?)</script>', html)
    assert match is not None
    data: JSON = json.loads(match.group(1))
    return data


def text_of(html: str, name: str) -> str:
    """The text of the first element with this data-testid (flat markup only)."""
    match = re.search(rf'data-testid="{name}"[^>]*>([^<]*)<', html)
    assert match is not None, f"no element {name}"
    return match.group(1).strip()


async def test_page_shows_product_price_and_total_before_scripts(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    checkout = await make_checkout(client, tenant)
    response = await client.get(page_path(checkout))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert text_of(html, "product-name") == "Pro License"
    assert text_of(html, "product-price") == "$25.00"
    assert text_of(html, "total") == "$25.00"
    assert text_of(html, "product-description") == "Lifetime license.\nOne developer."
    assert 'data-testid="sandbox-hint"' in html
    assert '<script type="module" src="/static/checkout.js"></script>' in html
    data = page_data(html)
    assert data["checkout"]["id"] == checkout["id"]
    assert data["exponents"] == {"usd": 2}


async def test_page_headers_keep_the_secret_and_the_page_safe(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    checkout = await make_checkout(client, tenant)
    response = await client.get(page_path(checkout))
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy

    embedded = await make_checkout(client, tenant, embed_origin="https://shop.example.com")
    response = await client.get(page_path(embedded))
    assert "frame-ancestors https://shop.example.com" in response.headers["content-security-policy"]


async def test_everything_from_the_merchant_is_escaped(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    evil = "<script>alert(1)</script>"
    checkout = await make_checkout(
        client, tenant, product={"name": "</script><b>x", "description": evil}
    )
    html = (await client.get(page_path(checkout))).text
    assert evil not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "</script><b>" not in html
    assert page_data(html)["checkout"]["product"]["name"] == "</script><b>x"


async def test_zero_decimal_currency_has_no_decimals(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    checkout = await make_checkout(
        client, tenant, {"amount_type": "fixed", "price_amount": 120000, "price_currency": "jpy"}
    )
    html = (await client.get(page_path(checkout))).text
    assert text_of(html, "total") == "¥120,000"
    assert page_data(html)["exponents"] == {"jpy": 0}


async def test_pay_what_you_want_shows_the_amount_input(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    checkout = await make_checkout(
        client,
        tenant,
        {"amount_type": "custom", "minimum_amount": 500, "preset_amount": 1500},
    )
    html = (await client.get(page_path(checkout))).text
    assert re.search(r'value="15.00"\s+data-field="amount"', html)
    assert "Minimum $5.00" in html
    assert text_of(html, "total") == "$15.00"


async def test_free_checkout_has_no_card_form(client: httpx.AsyncClient, tenant: Tenant) -> None:
    checkout = await make_checkout(client, tenant, {"amount_type": "free"})
    html = (await client.get(page_path(checkout))).text
    assert re.search(r'data-testid="payment-section"[^>]* hidden', html)
    assert re.search(r'data-testid="billing-section"[^>]* hidden', html)
    assert "Get it free" in html


async def test_full_billing_address_when_required(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    checkout = await make_checkout(client, tenant, require_billing_address=True)
    html = (await client.get(page_path(checkout))).text
    for name in ("line1", "line2", "postal_code", "city", "state"):
        assert f'data-testid="billing-{name}"' in html
    plain = await make_checkout(client, tenant)
    html = (await client.get(page_path(plain))).text
    assert 'data-testid="billing-line1"' not in html
    assert 'data-testid="country-select"' in html


async def test_country_defaults_to_the_browser_region(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    checkout = await make_checkout(client, tenant)
    html = (
        await client.get(page_path(checkout), headers={"accept-language": "de-DE,de;q=0.9"})
    ).text
    assert '<option value="DE" selected>Germany</option>' in html
    given = await make_checkout(client, tenant, customer_billing_address={"country": "SE"})
    html = (await client.get(page_path(given), headers={"accept-language": "de-DE"})).text
    assert '<option value="SE" selected>Sweden</option>' in html


async def test_unknown_checkout_is_a_404_page(client: httpx.AsyncClient) -> None:
    for secret in ("kassa_c_nope", "x" * 5000, "%E2%9C%93", "a%2Fb"):
        for suffix in ("", "/confirmation"):
            response = await client.get(f"/checkout/{secret}{suffix}")
            assert response.status_code == 404, (secret, suffix)
            assert response.headers["content-type"].startswith("text/html")
            assert "Checkout not found" in response.text


async def test_expired_checkout_is_a_friendly_410_page(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    checkout = await make_checkout(client, tenant)
    async with session_scope(sessionmaker) as session:
        await session.execute(
            update(Checkout)
            .where(Checkout.id == uuid.UUID(checkout["id"]))
            .values(expires_at=utc_now() - timedelta(minutes=1))
        )
    for suffix in ("", "/confirmation"):
        response = await client.get(page_path(checkout) + suffix)
        assert response.status_code == 410
        assert "This checkout has expired" in response.text
        assert 'data-testid="expired"' in response.text


async def test_confirmation_of_an_unpaid_checkout_goes_back_to_it(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    checkout = await make_checkout(client, tenant)
    response = await client.get(page_path(checkout) + "/confirmation")
    assert response.status_code == 303
    assert response.headers["location"] == page_path(checkout)


async def test_confirmation_of_a_free_order(client: httpx.AsyncClient, tenant: Tenant) -> None:
    checkout = await make_checkout(client, tenant, {"amount_type": "free"})
    confirmed = await client.post(
        f"/v1/checkouts/client/{checkout['client_secret']}/confirm",
        json={"customer_email": "free@example.com"},
    )
    assert confirmed.status_code == 200, confirmed.text
    response = await client.get(page_path(checkout) + "/confirmation")
    assert response.status_code == 200
    assert text_of(response.text, "confirmation-title") == "Order confirmed"
    assert "free@example.com" in response.text
    # The checkout page itself now says it is complete.
    html = (await client.get(page_path(checkout))).text
    assert re.search(r'data-testid="checkout-form"[^>]* hidden', html)
    assert not re.search(r'data-testid="succeeded"[^>]* hidden', html)


async def test_static_files(client: httpx.AsyncClient) -> None:
    for name, kind in (
        ("checkout.js", "javascript"),
        ("money.js", "javascript"),
        ("checkout.css", "text/css"),
    ):
        response = await client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert kind in response.headers["content-type"]
        assert response.headers["cache-control"] == "no-cache"
    assert (await client.get("/static/nope.js")).status_code == 404
    assert (await client.get("/static/../endpoints.py")).status_code == 404
