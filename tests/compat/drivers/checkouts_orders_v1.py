"""Checkouts and orders through `polar-sdk` 1.0.x (`polar.v2026_10`): create a checkout, read
and update it, confirm it as the customer with a sandbox payment method, read the order.

Run by the 1.0 SDK environment's interpreter with KASSA_URL and KASSA_TOKEN set.
"""

from __future__ import annotations

import time
from typing import Any

from _driver import Driver
from polar.v2026_10 import Polar
from polar.v2026_10.errors import HTTPValidationError, PaymentError
from polar.v2026_10.outputs import Checkout, CheckoutPublic, CheckoutPublicConfirmed, Order

PRICE = 4900


def main(d: Driver) -> dict[str, Any]:
    with Polar(d.token, base_url=d.base_url, timeout=30.0) as polar:
        polar._client._client.event_hooks["response"].append(d.on_response)
        with d.step("products.create"):
            product = polar.products.create(
                name=f"Compat checkout {d.run_id}",
                prices=[{"amount_type": "fixed", "price_amount": PRICE, "price_currency": "usd"}],
            )
        with d.step("checkouts.create"):
            checkout = polar.checkouts.create(
                products=[product.id],
                metadata={"source": "compat"},
                success_url="https://merchant.example/thanks?id={CHECKOUT_ID}",
            )
            d.instance(checkout, Checkout, "created checkout")
            d.equal(checkout.status, "open", "checkout status")
            d.equal(checkout.total_amount, PRICE, "checkout total_amount")
            d.equal(
                checkout.success_url,
                f"https://merchant.example/thanks?id={checkout.id}",
                "success_url",
            )
        with d.step("checkouts.get / update / list"):
            d.equal(polar.checkouts.get(checkout.id).id, checkout.id, "checkouts.get id")
            updated = polar.checkouts.update(checkout.id, customer_email="sdk@example.com")
            d.equal(updated.customer_email, "sdk@example.com", "updated customer_email")
            listed = polar.checkouts.list(limit=10)
            d.check(checkout.id in [c.id for c in listed.items], "checkout listed")
        with d.step("checkouts.client_get"):
            public = polar.checkouts.client_get(checkout.client_secret)
            d.instance(public, CheckoutPublic, "client checkout")
        with d.step("checkouts.client_confirm with a declined card raises PaymentError"):
            d.raises(
                PaymentError,
                lambda: polar.checkouts.client_confirm(
                    checkout.client_secret,
                    customer_billing_address={"country": "US"},
                    confirmation_token_id="pm_card_chargeDeclined",
                ),
                "declined confirm",
            )
        with d.step("checkouts.client_confirm with a missing email raises 422"):
            other = polar.checkouts.create(product_id=product.id)
            d.raises(
                HTTPValidationError,
                lambda: polar.checkouts.client_confirm(other.client_secret),
                "confirm without email",
            )
        with d.step("checkouts.client_confirm"):
            confirmed = polar.checkouts.client_confirm(
                checkout.client_secret,
                customer_billing_address={"country": "US"},
                confirmation_token_id="pm_card_visa",
            )
            d.instance(confirmed, CheckoutPublicConfirmed, "confirmed checkout")
            d.equal(confirmed.status, "confirmed", "confirmed status")
        with d.step("the order is paid"):
            order = wait_for_order(polar, checkout.id)
            d.instance(order, Order, "order")
            d.equal(order.status, "paid", "order status")
            d.equal(order.total_amount, PRICE, "order total_amount")
            d.equal(order.checkout_id, checkout.id, "order checkout_id")
            d.equal(polar.orders.get(order.id).id, order.id, "orders.get id")
            d.equal(polar.checkouts.get(checkout.id).status, "succeeded", "checkout status")
    return {"checkout": checkout.id, "order": order.id}


def wait_for_order(polar: Polar, checkout_id: str) -> Order:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = polar.orders.list(checkout_id=checkout_id).items
        if items:
            return items[0]
        time.sleep(0.2)
    raise AssertionError("no order for the checkout after 30 s")


if __name__ == "__main__":
    Driver(generation="1.0").run(main)
