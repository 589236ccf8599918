"""What the checkout pages show, derived from the public checkout (``CheckoutPublic``).

Pure functions: the endpoints load the checkout, these shape it for the templates and for the
page script (the JSON it starts from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from kassa.checkout.schemas import BillingAddressFieldMode, CheckoutPublic, CheckoutStatus
from kassa.kit.money import minor_unit_exponent
from kassa.product.schemas import ProductPrice, ProductPriceCustom
from kassa.web.countries import COUNTRY_NAMES
from kassa.web.templating import format_money

PageState = Literal["open", "processing", "succeeded", "failed"]

COUNTRY_OPTIONS: tuple[tuple[str, str], ...] = tuple(
    sorted(COUNTRY_NAMES.items(), key=lambda item: item[1].casefold())
)


@dataclass(frozen=True, slots=True)
class AddressField:
    name: str
    label: str
    autocomplete: str
    required: bool
    value: str


_ADDRESS_FIELDS = (
    ("line1", "Address", "address-line1"),
    ("line2", "Apartment, suite, etc.", "address-line2"),
    ("postal_code", "Postal code", "postal-code"),
    ("city", "City", "address-level2"),
    ("state", "State / Province", "address-level1"),
)


@dataclass(frozen=True, slots=True)
class ProductChoice:
    id: str
    name: str
    price_label: str
    selected: bool


def price_label(price: ProductPrice | None) -> str:
    if price is None:
        return ""
    if isinstance(price, ProductPriceCustom):
        return "Pay what you want"
    if price.price_amount == 0:
        return "Free"
    return format_money(price.price_amount, price.price_currency)


def product_choices(checkout: CheckoutPublic) -> list[ProductChoice]:
    """The products offered when the checkout has several, each with its price in the
    checkout's currency when it has one."""
    if len(checkout.products) < 2:
        return []
    choices = []
    for product in checkout.products:
        prices = (checkout.prices or {}).get(str(product.id)) or product.prices
        active = [price for price in prices if not price.is_archived]
        price = next((p for p in active if p.price_currency == checkout.currency), None)
        if product.id == checkout.product_id and checkout.product_price is not None:
            price = checkout.product_price
        choices.append(
            ProductChoice(
                str(product.id),
                product.name,
                price_label(price or (active[0] if active else None)),
                product.id == checkout.product_id,
            )
        )
    return choices


def page_state(checkout: CheckoutPublic) -> PageState:
    if checkout.status == CheckoutStatus.confirmed:
        return "processing"
    if checkout.status == CheckoutStatus.succeeded:
        return "succeeded"
    if checkout.status == CheckoutStatus.failed:
        return "failed"
    return "open"


def needs_billing_address(checkout: CheckoutPublic) -> bool:
    return checkout.is_payment_required or checkout.require_billing_address


def address_fields(checkout: CheckoutPublic) -> list[AddressField]:
    """The address lines below the country, per ``billing_address_fields``."""
    modes = checkout.billing_address_fields
    current = checkout.customer_billing_address
    fields = []
    for name, label, autocomplete in _ADDRESS_FIELDS:
        mode: BillingAddressFieldMode = getattr(modes, name)
        if mode == BillingAddressFieldMode.disabled:
            continue
        value = getattr(current, name, None) if current else None
        fields.append(
            AddressField(
                name, label, autocomplete, mode == BillingAddressFieldMode.required, value or ""
            )
        )
    return fields


def address_rows(fields: list[AddressField]) -> list[list[AddressField]]:
    """One field a row, except postal code and city, which share one."""
    rows: list[list[AddressField]] = []
    for field in fields:
        if field.name == "city" and rows and rows[-1][-1].name == "postal_code":
            rows[-1].append(field)
        else:
            rows.append([field])
    return rows


def default_country(checkout: CheckoutPublic, accept_language: str | None) -> str:
    """The customer's country if known, else the region of their browser's first language."""
    if checkout.customer_billing_address is not None:
        return checkout.customer_billing_address.country
    for item in (accept_language or "").split(",")[:3]:
        tag = item.split(";")[0].strip()
        parts = tag.replace("_", "-").split("-")
        if len(parts) >= 2 and parts[-1].upper() in COUNTRY_NAMES:
            return parts[-1].upper()
    return ""


def exponents(checkout: CheckoutPublic) -> dict[str, int]:
    """Minor-unit exponents of every currency the page may show."""
    currencies = {checkout.currency}
    for prices in (checkout.prices or {}).values():
        currencies.update(price.price_currency for price in prices)
    return {currency: minor_unit_exponent(currency) for currency in sorted(currencies)}


def custom_price(checkout: CheckoutPublic) -> ProductPriceCustom | None:
    price = checkout.product_price
    return price if isinstance(price, ProductPriceCustom) else None


def processor(checkout: CheckoutPublic) -> str:
    return checkout.payment_processor_metadata.get("processor", "")


def checkout_context(checkout: CheckoutPublic, accept_language: str | None) -> dict[str, Any]:
    return {
        "checkout": checkout,
        "organization": checkout.organization,
        "product": checkout.product,
        "state": page_state(checkout),
        "custom_price": custom_price(checkout),
        "price_label": price_label(checkout.product_price),
        "product_choices": product_choices(checkout),
        "processor": processor(checkout),
        "needs_billing": needs_billing_address(checkout),
        "countries": COUNTRY_OPTIONS,
        "country": default_country(checkout, accept_language),
        "address_rows": address_rows(address_fields(checkout)),
        "payment_error": checkout.payment_processor_metadata.get("payment_error"),
        "page_data": {
            "checkout": checkout.model_dump(mode="json"),
            "exponents": exponents(checkout),
        },
    }
