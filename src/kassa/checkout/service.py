"""Checkout sessions: creation, the merchant's and the customer's updates, expiry.

Every change goes through ``_reprice`` so the amounts always agree with the selected price,
the customer's amount and the discount. Confirmation and payment live in ``confirm.py``;
settlement (the processor's answer) in ``settlement.py``.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.checkout import pricing
from kassa.checkout.errors import ExpiredCheckoutError, NotOpenCheckout
from kassa.checkout.repository import CheckoutRepository, ForConfirm
from kassa.checkout.schemas import (
    CheckoutCreate,
    CheckoutListFilters,
    CheckoutUpdate,
    CheckoutUpdatePublic,
)
from kassa.config import get_settings
from kassa.customer.repository import CustomerRepository
from kassa.customer.tax_id import InvalidTaxID, parse_tax_id
from kassa.discount import service as discount_service
from kassa.kit import sql
from kassa.kit.clock import utc_now
from kassa.kit.errors import ResourceNotFound, ValidationFailed
from kassa.kit.pagination import PaginationParams
from kassa.models import Checkout, Product, ProductPrice

Loc = tuple[str, ...]


def new_client_secret() -> str:
    return "kassa_c_" + secrets.token_urlsafe(32)


def _active_prices(product: Product) -> list[ProductPrice]:
    return [price for price in product.prices if not price.is_archived]


def _check_sellable(product: Product, loc: Loc) -> None:
    if product.is_archived:
        raise ValidationFailed.field(loc, "This product is archived.", str(product.id))
    if product.is_recurring:
        raise ValidationFailed.field(
            loc, "Subscriptions are not supported by this server yet.", str(product.id)
        )
    if not _active_prices(product):
        raise ValidationFailed.field(loc, "This product has no active price.", str(product.id))


def _price_in(product: Product, currency: str | None, loc: Loc) -> ProductPrice:
    prices = _active_prices(product)
    if currency is None:
        return prices[0]
    for price in prices:
        if price.price_currency == currency:
            return price
    raise ValidationFailed.field(loc, f"The product has no price in {currency}.", currency)


async def _selection(
    session: AsyncSession, organization_id: uuid.UUID, body: CheckoutCreate
) -> tuple[list[Product], Product, ProductPrice]:
    repository = CheckoutRepository(session)
    if body.product_price_id is not None:
        found = await repository.price_with_product(organization_id, body.product_price_id)
        loc: Loc = ("body", "product_price_id")
        if found is None:
            raise ValidationFailed.field(
                loc, "Product price not found.", str(body.product_price_id)
            )
        price, product = found
        _check_sellable(product, loc)
        if price.is_archived:
            raise ValidationFailed.field(loc, "This price is archived.", str(price.id))
        return [product], product, price
    ids = body.product_ids or []
    loc = ("body", "products") if body.products is not None else ("body", "product_id")
    products = await repository.products(organization_id, ids)
    if len(products) != len(ids):
        missing = next(i for i in ids if i not in {p.id for p in products})
        raise ValidationFailed.field(loc, "Product not found.", str(missing))
    for product in products:
        _check_sellable(product, loc)
    selected = products[0]
    return products, selected, _price_in(selected, body.currency, ("body", "currency"))


def _tax_id(value: str | None, address: dict[str, Any] | None, loc: Loc) -> str | None:
    if value is None:
        return None
    try:
        number, _ = parse_tax_id(value, (address or {}).get("country"))
    except InvalidTaxID as error:
        raise ValidationFailed.field(loc, str(error), value) from error
    return number


async def create_checkout(
    session: AsyncSession,
    organization_id: uuid.UUID,
    body: CheckoutCreate,
    base_url: str,
    writes: sql.Writes | None = None,
) -> Checkout:
    """A new checkout, inserted now or with ``writes``."""
    settings = get_settings()
    products, product, price = await _selection(session, organization_id, body)
    client_secret = new_client_secret()
    checkout = Checkout(
        id=uuid.uuid4(),
        organization_id=organization_id,
        client_secret=client_secret,
        url=f"{base_url.rstrip('/')}/checkout/{client_secret}",
        status="open",
        processor=settings.payment_processor,
        expires_at=utc_now() + timedelta(minutes=settings.checkout_ttl_minutes),
        success_url=body.success_url,
        return_url=body.return_url,
        embed_origin=body.embed_origin,
        product_ids=[p.id for p in products],
        product_id=product.id,
        product_price_id=price.id,
        currency=price.price_currency,
        seats=body.seats,
        allow_discount_codes=body.allow_discount_codes,
        require_billing_address=body.require_billing_address,
        allow_trial=body.allow_trial,
        trial_interval=str(body.trial_interval) if body.trial_interval else None,
        trial_interval_count=body.trial_interval_count,
        external_customer_id=body.external_customer_id,
        is_business_customer=body.is_business_customer,
        customer_name=body.customer_name,
        customer_email=body.customer_email,
        customer_ip_address=body.customer_ip_address,
        customer_billing_name=body.customer_billing_name,
        customer_billing_address=body.customer_billing_address.model_dump()
        if body.customer_billing_address
        else None,
        locale=body.locale,
        user_metadata=dict(body.metadata),
        customer_metadata=dict(body.customer_metadata),
        custom_field_data=dict(body.custom_field_data),
    )
    checkout.customer_tax_id = _tax_id(
        body.customer_tax_id, checkout.customer_billing_address, ("body", "customer_tax_id")
    )
    if body.customer_id is not None:
        customer = await CustomerRepository(session).get(organization_id, body.customer_id)
        if customer is None:
            raise ValidationFailed.field(
                ("body", "customer_id"), "Customer not found.", str(body.customer_id)
            )
        checkout.customer_id = customer.id
        checkout.customer_email = checkout.customer_email or customer.email
        checkout.customer_name = checkout.customer_name or customer.name
        checkout.customer_billing_address = (
            checkout.customer_billing_address or customer.billing_address
        )
        checkout.external_customer_id = checkout.external_customer_id or customer.external_id
    await reprice(
        session,
        checkout,
        price,
        requested_amount=body.amount,
        discount_id=body.discount_id,
        amount_loc=("body", "amount"),
        discount_loc=("body", "discount_id"),
    )
    await CheckoutRepository(session).insert(checkout, writes)
    return checkout


async def reprice(
    session: AsyncSession,
    checkout: Checkout,
    price: ProductPrice,
    *,
    requested_amount: int | None,
    discount_id: uuid.UUID | None,
    discount_code: str | None = None,
    amount_loc: Loc,
    discount_loc: Loc,
) -> None:
    """Set the price, the base amount and the discount, then every derived amount."""
    previous_price = checkout.product_price_id
    checkout.product_id = price.product_id
    checkout.product_price_id = price.id
    checkout.currency = price.price_currency
    if requested_amount is None and previous_price == price.id and price.amount_type == "custom":
        requested_amount = checkout.amount
    amount = pricing.base_amount(price, requested_amount, amount_loc)
    discount_amount = 0
    checkout.discount_id = None
    if discount_id is not None or discount_code is not None:
        if not pricing.discount_applicable(price):
            raise ValidationFailed.field(
                discount_loc,
                "Discounts do not apply to free or pay-what-you-want prices.",
                discount_code or str(discount_id),
            )
        discount = await discount_service.find_for_checkout(
            session,
            checkout.organization_id,
            discount_id=discount_id,
            code=discount_code,
            product_id=price.product_id,
            now=utc_now(),
        )
        discount_amount = discount_service.discount_amount(discount, amount, checkout.currency)
        checkout.discount_id = discount.id
    pricing.apply_amounts(checkout, amount, discount_amount)


async def list_checkouts(
    session: AsyncSession,
    organization_id: uuid.UUID,
    filters: CheckoutListFilters,
    sorting: Sequence[str],
    params: PaginationParams,
) -> tuple[Sequence[Checkout], int]:
    repository = CheckoutRepository(session)
    return await repository.paginate(repository.filtered(organization_id, filters, sorting), params)


async def get_checkout(
    session: AsyncSession, organization_id: uuid.UUID, checkout_id: uuid.UUID, *, lock: bool = False
) -> Checkout:
    return await CheckoutRepository(session).get_or_404(
        organization_id, checkout_id, for_update=lock
    )


async def get_by_client_secret(
    session: AsyncSession, client_secret: str, *, lock: bool = False
) -> Checkout:
    return _found(await CheckoutRepository(session).by_client_secret(client_secret, lock=lock))


async def for_confirm(
    session: AsyncSession, client_secret: str, email: str | None, *, lock: bool
) -> ForConfirm:
    """The checkout (with ``lock``, locked: ``CheckoutLocked`` when another transaction holds
    it), its version, and its customer looked up with ``email`` or the checkout's own."""
    found = await CheckoutRepository(session).for_confirm(client_secret, email, lock=lock)
    if found is None:
        raise ResourceNotFound()
    _found(found.checkout)
    return found


def _found(checkout: Checkout | None) -> Checkout:
    if checkout is None:
        raise ResourceNotFound()
    if is_expired(checkout):
        raise ExpiredCheckoutError()
    return checkout


def is_expired(checkout: Checkout) -> bool:
    return checkout.status == "expired" or (
        checkout.status == "open" and checkout.expires_at <= utc_now()
    )


def ensure_open(checkout: Checkout) -> None:
    if is_expired(checkout):
        raise ExpiredCheckoutError()
    if checkout.status != "open":
        raise NotOpenCheckout(checkout.status)


async def update_checkout(
    session: AsyncSession,
    checkout: Checkout,
    body: CheckoutUpdate | CheckoutUpdatePublic,
    *,
    save: bool = True,
) -> Checkout:
    """Apply a merchant's (``CheckoutUpdate``) or customer's (``CheckoutUpdatePublic``) changes
    and save them (``save=False``: the caller saves the checkout later)."""
    ensure_open(checkout)
    fields = body.model_fields_set
    price = await _selected_price(session, checkout, body)
    _apply_customer_fields(checkout, body, fields)
    discount_id = checkout.discount_id
    discount_code: str | None = None
    if isinstance(body, CheckoutUpdate):
        _apply_merchant_fields(checkout, body, fields)
        if "discount_id" in fields:
            discount_id = body.discount_id
    elif "discount_code" in fields:
        if body.discount_code is not None and not checkout.allow_discount_codes:
            raise ValidationFailed.field(
                ("body", "discount_code"),
                "Discount codes are not accepted on this checkout.",
                body.discount_code,
            )
        discount_id, discount_code = None, body.discount_code
    await reprice(
        session,
        checkout,
        price,
        requested_amount=body.amount,
        discount_id=discount_id,
        discount_code=discount_code,
        amount_loc=("body", "amount"),
        discount_loc=("body", "discount_code" if discount_code else "discount_id"),
    )
    if save:
        await CheckoutRepository(session).save(checkout)
    return checkout


async def _selected_price(
    session: AsyncSession, checkout: Checkout, body: CheckoutUpdate | CheckoutUpdatePublic
) -> ProductPrice:
    repository = CheckoutRepository(session)
    product_id = body.product_id or checkout.product_id
    if product_id not in checkout.product_ids:
        raise ValidationFailed.field(
            ("body", "product_id"), "This product is not offered in this checkout.", str(product_id)
        )
    [product] = await repository.products(checkout.organization_id, [product_id])
    if body.product_price_id is not None:
        for price in _active_prices(product):
            if price.id == body.product_price_id:
                return price
        raise ValidationFailed.field(
            ("body", "product_price_id"),
            "This price is not an active price of the selected product.",
            str(body.product_price_id),
        )
    requested_currency: str | None = getattr(body, "currency", None)
    currency = requested_currency or checkout.currency
    prices = _active_prices(product)
    if product_id == checkout.product_id and currency == checkout.currency:
        for price in prices:
            if price.id == checkout.product_price_id:
                return price
    if requested_currency is None and not any(p.price_currency == currency for p in prices):
        return prices[0]  # another product, sold in another currency: take its own
    return _price_in(product, currency, ("body", "currency"))


def _apply_customer_fields(
    checkout: Checkout, body: CheckoutUpdate | CheckoutUpdatePublic, fields: set[str]
) -> None:
    simple = (
        "customer_name",
        "customer_email",
        "customer_billing_name",
        "locale",
        "seats",
    )
    for name in simple:
        if name in fields:
            setattr(checkout, name, getattr(body, name))
    if "is_business_customer" in fields and body.is_business_customer is not None:
        checkout.is_business_customer = body.is_business_customer
    if "custom_field_data" in fields and body.custom_field_data is not None:
        checkout.custom_field_data = dict(body.custom_field_data)
    if "customer_billing_address" in fields:
        address = body.customer_billing_address
        checkout.customer_billing_address = address.model_dump() if address else None
    if "customer_tax_id" in fields or "customer_billing_address" in fields:
        raw = body.customer_tax_id if "customer_tax_id" in fields else checkout.customer_tax_id
        checkout.customer_tax_id = _tax_id(
            raw, checkout.customer_billing_address, ("body", "customer_tax_id")
        )
    if isinstance(body, CheckoutUpdatePublic) and "payment_method_type" in fields:
        checkout.payment_method_type = body.payment_method_type
    if "allow_trial" in fields and body.allow_trial is not None:
        checkout.allow_trial = body.allow_trial


def _apply_merchant_fields(checkout: Checkout, body: CheckoutUpdate, fields: set[str]) -> None:
    for name in ("success_url", "return_url", "embed_origin", "customer_ip_address"):
        if name in fields:
            setattr(checkout, name, getattr(body, name))
    if body.metadata is not None:
        checkout.user_metadata = dict(body.metadata)
    if body.customer_metadata is not None:
        checkout.customer_metadata = dict(body.customer_metadata)
    if body.allow_discount_codes is not None:
        checkout.allow_discount_codes = body.allow_discount_codes
    if body.require_billing_address is not None:
        checkout.require_billing_address = body.require_billing_address
    if "trial_interval" in fields or "trial_interval_count" in fields:
        if (body.trial_interval is None) != (body.trial_interval_count is None):
            raise ValidationFailed.field(
                ("body", "trial_interval_count"), "Set both trial_interval and its count."
            )
        checkout.trial_interval = str(body.trial_interval) if body.trial_interval else None
        checkout.trial_interval_count = body.trial_interval_count
