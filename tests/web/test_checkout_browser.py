"""The hosted checkout in headless Chromium against a live server: paying, declines, phone
width, discount codes, pay-what-you-want, free products and card authentication."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.async_api import Browser, Page, expect

from tests.support.browser import PHONE
from tests.web.conftest import JSON, TIMEOUT_MS, Shop

pytestmark = [pytest.mark.slow]

VISA = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0002"
INSUFFICIENT_FUNDS = "4000 0000 0000 9995"
AUTHENTICATION_REQUIRED = "4000 0027 6000 3184"


@pytest.fixture(scope="module")
def merchant_site() -> Iterator[str]:
    """The merchant's own site, where a custom `success_url` sends the customer."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>Thanks</title><h1>Thanks for your order</h1>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def open_checkout(page: Page, checkout: JSON) -> None:
    await page.goto(checkout["url"])
    await expect(page.get_by_test_id("checkout")).to_have_attribute("data-ready", "true")


async def fill_customer(
    page: Page, email: str = "ada@example.com", name: str = "Ada Lovelace", country: str = "NL"
) -> None:
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Full name").fill(name)
    await page.get_by_label("Country or region").select_option(country)


async def fill_card(page: Page, number: str = VISA) -> None:
    await page.get_by_label("Card number").fill(number)
    await page.get_by_label("Expiration date").fill("12 / 34")
    await page.get_by_label("Security code").fill("123")


async def wait_for_paid_events(shop: Shop, checkout_id: str, within: float = 20.0) -> list[JSON]:
    deadline = time.monotonic() + within
    while not (events := shop.paid_events(checkout_id)):
        assert time.monotonic() < deadline, "no verified order.paid webhook arrived"
        await asyncio.sleep(0.1)
    return events


async def test_pay_with_card_lands_on_success_url_and_sends_order_paid(
    page: Page, shop: Shop, merchant_site: str
) -> None:
    checkout = await shop.checkout(success_url=f"{merchant_site}/thanks?checkout={{CHECKOUT_ID}}")
    confirms: list[str] = []
    page.on(
        "request",
        lambda request: (
            confirms.append(request.url)
            if request.method == "POST" and request.url.endswith("/confirm")
            else None
        ),
    )
    await open_checkout(page, checkout)
    await expect(page.get_by_test_id("product-name")).to_have_text("Pro License")
    await expect(page.get_by_test_id("total")).to_have_text("$25.00")
    await expect(page.get_by_test_id("organization-name")).to_have_text("Acme Software")
    await expect(page.get_by_test_id("sandbox-hint")).to_contain_text("4242 4242 4242 4242")

    await fill_customer(page)
    await fill_card(page)
    pay = page.get_by_test_id("pay-button")
    await expect(pay).to_have_text("Pay $25.00")
    await pay.dblclick()  # a second click must not confirm twice

    await page.wait_for_url(lambda url: url.startswith(f"{merchant_site}/thanks"))
    assert page.url == f"{merchant_site}/thanks?checkout={checkout['id']}"
    assert len(confirms) == 1

    [event] = await wait_for_paid_events(shop, checkout["id"])
    assert event["data"]["total_amount"] == 2500
    assert event["data"]["customer"]["email"] == "ada@example.com"
    [order] = await shop.orders(checkout["id"])
    assert order["id"] == event["data"]["id"]


async def test_declined_card_shows_the_reason_and_creates_no_order(page: Page, shop: Shop) -> None:
    checkout = await shop.checkout()
    await open_checkout(page, checkout)
    await fill_customer(page)
    await fill_card(page, DECLINED)
    await page.get_by_test_id("pay-button").click()

    error = page.get_by_test_id("payment-error")
    await expect(error).to_have_text("Your card was declined.")
    await expect(page.get_by_test_id("pay-button")).to_be_enabled()
    assert await shop.orders(checkout["id"]) == []

    await page.get_by_label("Card number").fill(INSUFFICIENT_FUNDS)
    await page.get_by_test_id("pay-button").click()
    await expect(error).to_have_text("Your card has insufficient funds.")
    assert await shop.orders(checkout["id"]) == []

    # The customer tries another card: the same checkout still pays.
    await page.get_by_label("Card number").fill(VISA)
    await page.get_by_test_id("pay-button").click()
    await page.wait_for_url(f"**/checkout/{checkout['client_secret']}/confirmation")
    await expect(page.get_by_test_id("confirmation-title")).to_have_text("Payment received")
    assert len(await shop.orders(checkout["id"])) == 1


async def test_client_side_checks_name_the_fields(page: Page, shop: Shop) -> None:
    checkout = await shop.checkout()
    await open_checkout(page, checkout)
    await page.get_by_test_id("pay-button").click()
    await expect(page.get_by_test_id("email-error")).to_have_text("Enter your email address.")
    await expect(page.get_by_test_id("card-number-error")).to_have_text("Enter your card number.")
    await expect(page.get_by_label("Email")).to_be_focused()

    await page.get_by_label("Email").fill("ada@example.com")
    await expect(page.get_by_test_id("email-error")).to_be_hidden()
    await page.get_by_label("Card number").fill("4242 4242 4242 4241")
    await page.get_by_test_id("pay-button").click()
    await expect(page.get_by_test_id("card-number-error")).to_have_text(
        "Your card number is invalid."
    )
    assert (await shop.orders(checkout["id"])) == []


async def test_phone_width_has_no_horizontal_scroll(browser: Browser, shop: Shop) -> None:
    product = await shop.product(
        name="Supercalifragilisticexpialidocious-Enterprise-Edition-License",
        prices=[{"amount_type": "fixed", "price_amount": 123456789, "price_currency": "eur"}],
    )
    checkout = await shop.checkout(product, require_billing_address=True)
    context = await browser.new_context(viewport=PHONE, locale="en-US", has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = await context.new_page()
        await open_checkout(page, checkout)
        await page.get_by_test_id("pay-button").click()  # errors shown must not widen it
        await expect(page.get_by_test_id("email-error")).to_be_visible()
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls horizontally by {overflow}px"

        pay = page.get_by_test_id("pay-button")
        await pay.scroll_into_view_if_needed()
        await expect(pay).to_be_visible()
        await expect(pay).to_be_in_viewport()
        box = await pay.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        await expect(page.get_by_test_id("total")).to_have_text("€1,234,567.89")
    finally:
        await context.close()


async def test_discount_code_updates_the_total(page: Page, shop: Shop) -> None:
    discount = await shop.api.post(
        "/v1/discounts/",
        json={
            "name": "Launch week",
            "code": "LAUNCH25",
            "type": "percentage",
            "basis_points": 2500,
            "duration": "once",
        },
    )
    assert discount.status_code == 201, discount.text
    checkout = await shop.checkout()
    await open_checkout(page, checkout)
    await expect(page.get_by_test_id("discount-line")).to_be_hidden()

    await page.get_by_label("Discount code").fill("NOSUCHCODE")
    await page.get_by_test_id("discount-apply").click()
    await expect(page.get_by_test_id("discount-error")).to_have_text("No discount has this code.")
    await expect(page.get_by_test_id("total")).to_have_text("$25.00")

    await page.get_by_label("Discount code").fill("launch25")
    await page.get_by_test_id("discount-apply").click()
    await expect(page.get_by_test_id("discount-error")).to_be_hidden()
    await expect(page.get_by_test_id("discount-amount")).to_have_text("\u2212$6.25")
    await expect(page.get_by_test_id("total")).to_have_text("$18.75")
    await expect(page.get_by_test_id("pay-button")).to_have_text("Pay $18.75")

    await page.get_by_test_id("discount-remove").click()
    await expect(page.get_by_test_id("total")).to_have_text("$25.00")
    await page.get_by_label("Discount code").fill("LAUNCH25")
    await page.get_by_test_id("discount-apply").click()
    await expect(page.get_by_test_id("total")).to_have_text("$18.75")

    await fill_customer(page, email="grace@example.com")
    await fill_card(page)
    await page.get_by_test_id("pay-button").click()
    await page.wait_for_url("**/confirmation")
    await expect(page.get_by_test_id("order-summary").get_by_test_id("total")).to_have_text(
        "$18.75"
    )
    [event] = await wait_for_paid_events(shop, checkout["id"])
    assert event["data"]["total_amount"] == 1875
    assert event["data"]["discount_id"] == discount.json()["id"]


async def test_pay_what_you_want(page: Page, shop: Shop) -> None:
    product = await shop.product(
        name="Soundtrack",
        prices=[
            {
                "amount_type": "custom",
                "minimum_amount": 500,
                "preset_amount": 1000,
                "price_currency": "eur",
            }
        ],
    )
    checkout = await shop.checkout(product)
    await open_checkout(page, checkout)
    amount = page.get_by_label("Name a fair price")
    await expect(amount).to_have_value("10.00")
    await expect(page.get_by_test_id("total")).to_have_text("€10.00")

    await amount.fill("2")
    await amount.blur()
    await expect(page.get_by_test_id("amount-error")).to_have_text("The minimum is €5.00.")

    await amount.fill("12.50")
    await amount.blur()
    await expect(page.get_by_test_id("total")).to_have_text("€12.50")
    await expect(page.get_by_test_id("amount-error")).to_be_hidden()

    await fill_customer(page, email="pwyw@example.com", country="DE")
    await fill_card(page)
    await page.get_by_test_id("pay-button").click()
    await page.wait_for_url("**/confirmation")
    [event] = await wait_for_paid_events(shop, checkout["id"])
    assert (event["data"]["total_amount"], event["data"]["currency"]) == (1250, "eur")


async def test_free_product_needs_no_card(page: Page, shop: Shop) -> None:
    product = await shop.product(name="Starter Pack", prices=[{"amount_type": "free"}])
    checkout = await shop.checkout(product)
    await open_checkout(page, checkout)
    await expect(page.get_by_test_id("product-price")).to_have_text("Free")
    await expect(page.get_by_test_id("payment-section")).to_be_hidden()
    await expect(page.get_by_test_id("billing-section")).to_be_hidden()
    pay = page.get_by_test_id("pay-button")
    await expect(pay).to_have_text("Get it free")

    await page.get_by_label("Email").fill("free@example.com")
    await pay.click()
    await page.wait_for_url("**/confirmation")
    await expect(page.get_by_test_id("confirmation-title")).to_have_text("Order confirmed")
    [order] = await shop.orders(checkout["id"])
    assert order["total_amount"] == 0


async def test_card_that_requires_authentication(page: Page, shop: Shop) -> None:
    checkout = await shop.checkout()
    await open_checkout(page, checkout)
    await fill_customer(page, email="3ds@example.com")
    await fill_card(page, AUTHENTICATION_REQUIRED)
    await page.get_by_test_id("pay-button").click()

    await page.wait_for_url("**/sandbox/authenticate/**")
    await page.get_by_test_id("auth-complete").click()
    await page.wait_for_url("**/confirmation")
    await expect(page.get_by_test_id("confirmation-title")).to_have_text("Payment received")
    await wait_for_paid_events(shop, checkout["id"])


async def test_failed_authentication_shows_the_failure(page: Page, shop: Shop) -> None:
    checkout = await shop.checkout()
    await open_checkout(page, checkout)
    await fill_customer(page, email="3ds-fail@example.com")
    await fill_card(page, AUTHENTICATION_REQUIRED)
    await page.get_by_test_id("pay-button").click()

    await page.wait_for_url("**/sandbox/authenticate/**")
    await page.get_by_test_id("auth-fail").click()
    failed = page.get_by_test_id("payment-failed")
    await expect(failed).to_be_visible()
    await expect(failed).to_contain_text("unable to authenticate")
    assert await shop.orders(checkout["id"]) == []


async def test_checkout_link_opens_the_page_with_the_email_prefilled(
    page: Page, shop: Shop
) -> None:
    product = await shop.product(name="Link Product")
    link = await shop.api.post(
        "/v1/checkout-links/", json={"payment_processor": "stripe", "product_id": product["id"]}
    )
    assert link.status_code == 201, link.text
    await page.goto(f"{link.json()['url']}?customer_email=linked%40example.com")
    await expect(page.get_by_test_id("checkout")).to_have_attribute("data-ready", "true")
    await expect(page.get_by_test_id("product-name")).to_have_text("Link Product")
    await expect(page.get_by_label("Email")).to_have_value("linked@example.com")


async def test_choosing_another_product_updates_the_total(page: Page, shop: Shop) -> None:
    basic = await shop.product(name="Solo")
    team = await shop.product(
        name="Team",
        description="Up to ten developers.",
        prices=[{"amount_type": "fixed", "price_amount": 9900}],
    )
    response = await shop.api.post("/v1/checkouts/", json={"products": [basic["id"], team["id"]]})
    assert response.status_code == 201, response.text
    await open_checkout(page, response.json())
    await expect(page.get_by_test_id("total")).to_have_text("$25.00")

    await page.get_by_test_id("product-choices").get_by_text("Team").click()
    await expect(page.get_by_test_id("total")).to_have_text("$99.00")
    await expect(page.get_by_test_id("product-name")).to_have_text("Team")
    await expect(page.get_by_test_id("product-description")).to_have_text("Up to ten developers.")
    await expect(page.get_by_test_id("pay-button")).to_have_text("Pay $99.00")
