"""Confirming and paying with the sandbox processor: settlement through the inbox, orders,
declines, authentication, free checkouts, and exactly-once under repetition and concurrency."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.models import Order, Payment, ProcessorEvent
from tests.checkout.conftest import JSON, RunJobs, confirm, create_checkout, create_product
from tests.conftest import Tenant
from tests.contract import schema_errors


async def _count(
    sessionmaker: async_sessionmaker[AsyncSession], model: type, checkout_id: str
) -> int:
    async with sessionmaker() as session:
        column = model.checkout_id  # type: ignore[attr-defined]
        return int(
            await session.scalar(
                select(func.count()).select_from(model).where(column == uuid.UUID(checkout_id))
            )
            or 0
        )


async def _status(client: httpx.AsyncClient, checkout: JSON) -> str:
    response = await client.get(f"/v1/checkouts/client/{checkout['client_secret']}")
    return str(response.json()["status"])


async def _paid_checkout(client: httpx.AsyncClient, tenant: Tenant) -> JSON:
    product = await create_product(client, tenant)
    return await create_checkout(client, tenant, product_id=product["id"])


async def test_card_payment_settles_into_one_paid_order(
    client: httpx.AsyncClient, tenant: Tenant, run_jobs: RunJobs
) -> None:
    checkout = await _paid_checkout(client, tenant)
    response = await confirm(client, checkout)
    assert response.status_code == 200, response.text
    confirmed = response.json()
    assert schema_errors("CheckoutPublicConfirmed", confirmed) == []
    assert confirmed["status"] == "confirmed"
    assert confirmed["customer_id"] is not None

    async def succeeded() -> bool:
        return await _status(client, checkout) == "succeeded"

    await run_jobs(succeeded)
    orders = await client.get(
        "/v1/orders/", headers=tenant.headers, params={"checkout_id": checkout["id"]}
    )
    [order] = orders.json()["items"]
    assert schema_errors("Order", order) == []
    assert order["status"] == "paid" and order["paid"] is True
    assert (order["subtotal_amount"], order["net_amount"], order["total_amount"]) == (2500,) * 3
    assert order["billing_reason"] == "purchase"
    assert order["customer"]["email"] == "buyer@example.com"
    assert order["items"][0]["label"] == "Pro License"
    got = await client.get(f"/v1/orders/{order['id']}", headers=tenant.headers)
    assert got.json() == order


async def test_a_double_confirm_is_refused_and_charges_once(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    checkout = await _paid_checkout(client, tenant)
    assert (await confirm(client, checkout)).status_code == 200
    again = await confirm(client, checkout)
    assert again.status_code == 403
    assert again.json()["error"] == "NotOpenCheckout"
    assert await _count(sessionmaker, Payment, checkout["id"]) == 1


async def test_fifty_parallel_confirms_make_one_payment_and_one_order(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: RunJobs,
) -> None:
    checkout = await _paid_checkout(client, tenant)
    responses = await asyncio.gather(*(confirm(client, checkout) for _ in range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 403, 409}, statuses

    async def succeeded() -> bool:
        return await _status(client, checkout) == "succeeded"

    await run_jobs(succeeded)
    assert await _count(sessionmaker, Payment, checkout["id"]) == 1
    assert await _count(sessionmaker, Order, checkout["id"]) == 1


async def test_declines_keep_the_checkout_open_and_create_no_order(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: RunJobs,
) -> None:
    checkout = await _paid_checkout(client, tenant)
    for token, message in (
        ("pm_card_chargeDeclined", "Your card was declined."),
        ("pm_card_chargeDeclinedInsufficientFunds", "Your card has insufficient funds."),
    ):
        response = await confirm(client, checkout, confirmation_token_id=token)
        assert response.status_code == 400
        assert response.json() == {"error": "PaymentError", "detail": message}
        assert await _status(client, checkout) == "open"
    # Both attempts are recorded, and a good card then pays.
    assert await _count(sessionmaker, Payment, checkout["id"]) == 2
    assert (await confirm(client, checkout)).status_code == 200

    async def outcomes() -> list[str | None]:
        async with sessionmaker() as session:
            intent = ProcessorEvent.payload["data"]["object"]
            statement = select(ProcessorEvent.outcome).where(
                intent["metadata"]["kassa_checkout_id"].astext == checkout["id"]
            )
            return list((await session.execute(statement)).scalars())

    async def settled() -> bool:
        # Every event processed: the success's may be settled before the declines' are.
        return None not in await outcomes() and await _status(client, checkout) == "succeeded"

    await run_jobs(settled)
    assert await _count(sessionmaker, Order, checkout["id"]) == 1
    # The processor's failure events for the declines changed nothing.
    assert sorted(map(str, await outcomes())) == ["ignored", "ignored", "order_paid"]


async def test_authentication_required_then_completed(
    client: httpx.AsyncClient, tenant: Tenant, run_jobs: RunJobs
) -> None:
    checkout = await _paid_checkout(client, tenant)
    response = await confirm(
        client, checkout, confirmation_token_id="pm_card_authenticationRequired"
    )
    assert response.status_code == 200
    next_action = response.json()["payment_processor_metadata"]["next_action_url"]
    page = await client.get(next_action)
    assert page.status_code == 200 and "Authenticate" in page.text
    done = await client.post(next_action, data={"outcome": "complete"})
    assert done.status_code == 303
    assert done.headers["location"] == checkout["url"]

    async def succeeded() -> bool:
        return await _status(client, checkout) == "succeeded"

    await run_jobs(succeeded)


async def test_authentication_failure_fails_the_checkout(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_jobs: RunJobs,
) -> None:
    checkout = await _paid_checkout(client, tenant)
    response = await confirm(
        client, checkout, confirmation_token_id="pm_card_authenticationRequired"
    )
    next_action = response.json()["payment_processor_metadata"]["next_action_url"]
    await client.post(next_action, data={"outcome": "fail"})

    async def failed() -> bool:
        return await _status(client, checkout) == "failed"

    await run_jobs(failed)
    assert await _count(sessionmaker, Order, checkout["id"]) == 0


async def test_free_products_make_a_paid_order_at_once(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    product = await create_product(client, tenant, {"amount_type": "free", "price_currency": "usd"})
    checkout = await create_checkout(client, tenant, product_id=product["id"])
    assert checkout["is_free_product_price"] is True
    assert checkout["is_payment_required"] is False
    response = await client.post(
        f"/v1/checkouts/client/{checkout['client_secret']}/confirm",
        json={"customer_email": "free@example.com"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "succeeded"
    orders = await client.get(
        "/v1/orders/", headers=tenant.headers, params={"checkout_id": checkout["id"]}
    )
    [order] = orders.json()["items"]
    assert (order["status"], order["total_amount"]) == ("paid", 0)


async def test_confirm_requires_email_country_and_a_payment_method(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    checkout = await _paid_checkout(client, tenant)
    url = f"/v1/checkouts/client/{checkout['client_secret']}/confirm"
    response = await client.post(url, json={})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "customer_email"]
    response = await client.post(url, json={"customer_email": "a@example.com"})
    assert response.json()["detail"][0]["loc"] == ["body", "customer_billing_address", "country"]
    response = await client.post(
        url, json={"customer_email": "a@example.com", "customer_billing_address": {"country": "FR"}}
    )
    assert response.json()["detail"][0]["loc"] == ["body", "confirmation_token_id"]
    assert await _status(client, checkout) == "open"


async def test_existing_customers_are_reused_by_email(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    customer = await client.post(
        "/v1/customers/", headers=tenant.headers, json={"email": "Known@Example.com"}
    )
    first = await _paid_checkout(client, tenant)
    response = await confirm(client, first, customer_email="known@example.com")
    assert response.json()["customer_id"] == customer.json()["id"]


async def _discount(client: httpx.AsyncClient, tenant: Tenant, **body: object) -> JSON:
    payload = {"name": "Launch", "type": "percentage", "basis_points": 1000, "duration": "once"}
    response = await client.post("/v1/discounts/", headers=tenant.headers, json=payload | body)
    assert response.status_code == 201, response.text
    discount: JSON = response.json()
    return discount


async def test_discount_codes_change_the_amounts_and_are_redeemed_once(
    client: httpx.AsyncClient, tenant: Tenant, run_jobs: RunJobs
) -> None:
    code = f"SAVE{uuid.uuid4().hex[:6].upper()}"
    discount = await _discount(client, tenant, code=code, max_redemptions=1)
    first, second = await _paid_checkout(client, tenant), await _paid_checkout(client, tenant)
    for checkout in (first, second):
        applied = await client.patch(
            f"/v1/checkouts/client/{checkout['client_secret']}",
            json={"discount_code": code.lower()},
        )
        assert applied.status_code == 200, applied.text
        body = applied.json()
        assert (body["amount"], body["discount_amount"], body["net_amount"]) == (2500, 250, 2250)
        assert body["total_amount"] == 2250
        assert body["discount_id"] == discount["id"]
        assert schema_errors("CheckoutPublic", body) == []
    # A declined card gives the redemption back, so the first checkout can still pay with it.
    declined = await confirm(client, first, confirmation_token_id="pm_card_chargeDeclined")
    assert declined.status_code == 400
    assert (await confirm(client, first)).status_code == 200
    exhausted = await confirm(client, second)
    assert exhausted.status_code == 422
    assert exhausted.json()["detail"][0]["loc"] == ["body", "discount_id"]

    async def succeeded() -> bool:
        return await _status(client, first) == "succeeded"

    await run_jobs(succeeded)
    orders = await client.get(
        "/v1/orders/", headers=tenant.headers, params={"checkout_id": first["id"]}
    )
    [order] = orders.json()["items"]
    assert (order["discount_amount"], order["total_amount"]) == (250, 2250)
    assert order["discount_id"] == discount["id"]
    assert schema_errors("Order", order) == []
    got = await client.get(f"/v1/discounts/{discount['id']}", headers=tenant.headers)
    assert got.json()["redemptions_count"] == 1


async def test_unknown_or_inapplicable_codes_are_refused(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    checkout = await _paid_checkout(client, tenant)
    url = f"/v1/checkouts/client/{checkout['client_secret']}"
    response = await client.patch(url, json={"discount_code": "NOPE-NOT-HERE"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "discount_code"]
    other = await create_product(client, tenant)
    code = f"ONLY{uuid.uuid4().hex[:6].upper()}"
    await _discount(client, tenant, code=code, products=[other["id"]])
    response = await client.patch(url, json={"discount_code": code})
    assert response.status_code == 422
    assert (await client.get(url)).json()["discount_amount"] == 0


async def test_a_merchant_discount_on_creation(client: httpx.AsyncClient, tenant: Tenant) -> None:
    product = await create_product(client, tenant)
    discount = await _discount(
        client, tenant, type="fixed", amount=1000, currency="usd", basis_points=None
    )
    checkout = await create_checkout(
        client, tenant, product_id=product["id"], discount_id=discount["id"]
    )
    assert (checkout["discount_amount"], checkout["total_amount"]) == (1000, 1500)
    assert checkout["discount"]["id"] == discount["id"]
    assert schema_errors("Checkout", checkout) == []


async def test_a_retried_confirm_with_its_idempotency_key_is_replayed(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    checkout = await _paid_checkout(client, tenant)
    url = f"/v1/checkouts/client/{checkout['client_secret']}/confirm"
    headers = {"Idempotency-Key": f"confirm-{checkout['id']}"}
    body = {
        "customer_email": "retry@example.com",
        "customer_billing_address": {"country": "SE"},
        "confirmation_token_id": "pm_card_visa",
    }
    first = await client.post(url, json=body, headers=headers)
    again = await client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert await _count(sessionmaker, Payment, checkout["id"]) == 1
    changed = await client.post(
        url, json=body | {"customer_email": "x@example.com"}, headers=headers
    )
    assert changed.status_code == 422


async def test_orders_sort_by_every_documented_property(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    from kassa.order.schemas import OrderSortProperty

    for sorting in OrderSortProperty:
        response = await client.get(
            "/v1/orders/", headers=tenant.headers, params={"sorting": str(sorting)}
        )
        assert response.status_code == 200, (sorting, response.text)
