"""Checkouts and orders through `polar-sdk` 0.32.0 (`polar_sdk`): create a checkout, read and
update it, confirm it as the customer with a sandbox payment method, read the order.

Run by the 0.32 SDK environment's interpreter with KASSA_URL and KASSA_TOKEN set.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from _driver import Driver
from polar_sdk import Polar, models

PRICE = 4900


def main(d: Driver) -> dict[str, Any]:
    http = httpx.Client(timeout=30.0, event_hooks={"response": [d.on_response]})
    with http, Polar(access_token=d.token, server_url=d.base_url, client=http) as polar:
        with d.step("products.create"):
            product = polar.products.create(
                request={
                    "name": f"Compat checkout {d.run_id}",
                    "prices": [
                        {
                            "amount_type": "fixed",
                            "price_amount": PRICE,
                            "price_currency": models.PresentmentCurrency.USD,
                        }
                    ],
                }
            )
        with d.step("checkouts.create (201)"):
            checkout = polar.checkouts.create(
                request={"products": [product.id], "metadata": {"source": "compat"}}
            )
            d.instance(checkout, models.Checkout, "created checkout")
            d.equal(checkout.status, "open", "checkout status")
            d.equal(checkout.total_amount, PRICE, "checkout total_amount")
        with d.step("checkouts.get / update / list"):
            d.equal(polar.checkouts.get(id=checkout.id).id, checkout.id, "checkouts.get id")
            updated = polar.checkouts.update(
                id=checkout.id, checkout_update={"customer_email": "sdk032@example.com"}
            )
            d.equal(updated.customer_email, "sdk032@example.com", "updated customer_email")
            listed = polar.checkouts.list(limit=10)
            d.check(
                listed is not None and checkout.id in [c.id for c in listed.result.items], "listed"
            )
        with d.step("checkouts.client_get"):
            public = polar.checkouts.client_get(client_secret=checkout.client_secret)
            d.instance(public, models.CheckoutPublic, "client checkout")
        with d.step("checkouts.client_confirm with a declined card raises PaymentError"):
            d.raises(
                models.PaymentError,
                lambda: polar.checkouts.client_confirm(
                    client_secret=checkout.client_secret,
                    checkout_confirm_stripe={
                        "customer_billing_address": {
                            "country": models.AddressInputCountryAlpha2Input.US
                        },
                        "confirmation_token_id": "pm_card_chargeDeclined",
                    },
                ),
                "declined confirm",
            )
        with d.step("checkouts.client_confirm"):
            confirmed = polar.checkouts.client_confirm(
                client_secret=checkout.client_secret,
                checkout_confirm_stripe={
                    "customer_billing_address": {
                        "country": models.AddressInputCountryAlpha2Input.US
                    },
                    "confirmation_token_id": "pm_card_visa",
                },
            )
            d.instance(confirmed, models.CheckoutPublicConfirmed, "confirmed checkout")
        with d.step("the order is paid"):
            order = wait_for_order(polar, checkout.id)
            d.instance(order, models.Order, "order")
            d.equal(order.status, "paid", "order status")
            d.equal(order.total_amount, PRICE, "order total_amount")
            d.equal(polar.orders.get(id=order.id).id, order.id, "orders.get id")
    return {"checkout": checkout.id, "order": order.id}


def wait_for_order(polar: Polar, checkout_id: str) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page = polar.orders.list(checkout_id=checkout_id)
        if page is not None and page.result.items:
            return page.result.items[0]
        time.sleep(0.2)
    raise AssertionError("no order for the checkout after 30 s")


if __name__ == "__main__":
    Driver(generation="0.32").run(main)
