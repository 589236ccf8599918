"""API forms of a checkout: ``Checkout`` for the merchant, ``CheckoutPublic`` for the page."""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.checkout import pricing
from kassa.checkout.repository import CheckoutRepository
from kassa.checkout.schemas import (
    BillingAddressFieldMode,
    BillingAddressFields,
    Checkout,
    CheckoutOrganization,
    CheckoutProduct,
    CheckoutPublic,
    CheckoutPublicConfirmed,
)
from kassa.kit import sql
from kassa.kit.db import transaction_cache
from kassa.models import Checkout as CheckoutModel
from kassa.models import Payment
from kassa.models import Product as ProductModel
from kassa.product.schemas import Product as ProductSchema
from kassa.product.serialize import product_schema
from kassa.webhook import service as webhook_service
from kassa.webhook.schemas import WebhookEventType
from kassa.webhook.service import Emission

CHECKOUT_ID_PLACEHOLDER = "{CHECKOUT_ID}"


# Checkout id → the live payment's ``next_action_url``, where this transaction just set it.
NEXT_ACTIONS = "checkout_next_actions"


def success_url(checkout: CheckoutModel) -> str:
    if checkout.success_url is None:
        return f"{checkout.url}/confirmation"
    return checkout.success_url.replace(CHECKOUT_ID_PLACEHOLDER, str(checkout.id))


def _billing_fields(checkout: CheckoutModel) -> BillingAddressFields:
    full = checkout.require_billing_address
    required, optional = BillingAddressFieldMode.required, BillingAddressFieldMode.optional
    detail = required if full else BillingAddressFieldMode.disabled
    return BillingAddressFields(
        country=required,
        state=optional if full else BillingAddressFieldMode.disabled,
        city=detail,
        postal_code=detail,
        line1=detail,
        line2=optional if full else BillingAddressFieldMode.disabled,
    )


# A checkout's products are values shared by the process's requests and never changed
# (``CheckoutRepository.products``): each is put in its API forms once, not per request.
_SHOWN: weakref.WeakKeyDictionary[ProductModel, tuple[ProductSchema, CheckoutProduct]] = (
    weakref.WeakKeyDictionary()
)


def _shown(product: ProductModel) -> tuple[ProductSchema, CheckoutProduct]:
    shown = _SHOWN.get(product)
    if shown is None:
        schema = product_schema(product, is_deletable=False)
        shown = _SHOWN[product] = (schema, CheckoutProduct.model_validate(schema.model_dump()))
    return shown


async def _fields(session: AsyncSession, checkout: CheckoutModel) -> dict[str, Any]:
    products = await CheckoutRepository(session).products(
        checkout.organization_id, checkout.product_ids
    )
    shown = [_shown(p) for p in products]
    schemas = {schema.id: schema for schema, _ in shown}
    checkout_products = [checkout_product for _, checkout_product in shown]
    selected = schemas.get(checkout.product_id)
    selected_price = (
        next((price for price in selected.prices if price.id == checkout.product_price_id), None)
        if selected
        else None
    )
    price_row = next(
        (
            price
            for product in products
            for price in product.prices
            if price.id == checkout.product_price_id
        ),
        None,
    )
    is_free = price_row is not None and pricing.is_free(price_row)
    discount = None
    if checkout.discount_id is not None:
        from kassa.discount.serialize import checkout_discount_schema
        from kassa.models import Discount

        row = await session.get(Discount, checkout.discount_id)
        if row is not None:
            discount = checkout_discount_schema(row).model_dump(mode="json")
    payment_required = checkout.total_amount > 0
    processor_metadata = {"processor": checkout.processor}
    if checkout.payment_error:
        processor_metadata["payment_error"] = checkout.payment_error
    if checkout.status == "confirmed":
        known = transaction_cache(session, NEXT_ACTIONS)
        next_action = (
            known[checkout.id]
            if checkout.id in known
            else await session.scalar(
                select(Payment.next_action_url).where(
                    Payment.checkout_id == checkout.id, Payment.status == "requires_action"
                )
            )
        )
        if next_action:
            processor_metadata["next_action_url"] = next_action
    return {
        "id": checkout.id,
        "created_at": checkout.created_at,
        "modified_at": checkout.modified_at,
        "custom_field_data": checkout.custom_field_data,
        "payment_processor": "stripe",
        "status": checkout.status,
        "client_secret": checkout.client_secret,
        "url": checkout.url,
        "expires_at": checkout.expires_at,
        "success_url": success_url(checkout),
        "return_url": checkout.return_url,
        "embed_origin": checkout.embed_origin,
        "amount": checkout.amount,
        "seats": checkout.seats,
        "discount_amount": checkout.discount_amount,
        "net_amount": checkout.net_amount,
        "tax_amount": checkout.tax_amount,
        "tax_behavior": None,
        "total_amount": checkout.total_amount,
        "currency": checkout.currency,
        "allow_trial": checkout.allow_trial,
        "active_trial_interval": None,
        "active_trial_interval_count": None,
        "trial_end": None,
        "organization_id": checkout.organization_id,
        "product_id": checkout.product_id,
        "product_price_id": checkout.product_price_id,
        "discount_id": checkout.discount_id,
        "allow_discount_codes": checkout.allow_discount_codes,
        "require_billing_address": checkout.require_billing_address,
        "is_discount_applicable": price_row is not None and pricing.discount_applicable(price_row),
        "is_free_product_price": is_free,
        "is_payment_required": payment_required,
        "is_payment_setup_required": False,
        "is_payment_form_required": payment_required,
        "customer_id": checkout.customer_id,
        "is_business_customer": checkout.is_business_customer,
        "customer_name": checkout.customer_name,
        "customer_email": checkout.customer_email,
        "customer_ip_address": checkout.customer_ip_address,
        "customer_billing_name": checkout.customer_billing_name,
        "customer_billing_address": checkout.customer_billing_address,
        "customer_tax_id": checkout.customer_tax_id,
        "locale": checkout.locale,
        "payment_method_type": checkout.payment_method_type,
        "payment_processor_metadata": processor_metadata,
        "billing_address_fields": _billing_fields(checkout),
        "products": checkout_products,
        "product": next((c for c in checkout_products if c.id == checkout.product_id), None),
        "product_price": selected_price,
        "prices": {str(p.id): schemas[p.id].prices for p in products},
        "discount": discount,
        "attached_custom_fields": [],
    }


async def checkout_schema(session: AsyncSession, checkout: CheckoutModel) -> Checkout:
    fields = await _fields(session, checkout)
    return Checkout.model_validate(
        fields
        | {
            "trial_interval": checkout.trial_interval,
            "trial_interval_count": checkout.trial_interval_count,
            "metadata": checkout.user_metadata,
            "external_customer_id": checkout.external_customer_id,
            "subscription_id": None,
            "customer_metadata": checkout.customer_metadata,
        }
    )


async def checkout_public_schema(
    session: AsyncSession, checkout: CheckoutModel, *, confirmed: bool = False
) -> CheckoutPublic:
    fields = await _fields(session, checkout)
    organization = await CheckoutRepository(session).organization(checkout.organization_id)
    assert organization is not None
    fields["organization"] = CheckoutOrganization.model_validate(organization)
    if confirmed:
        return CheckoutPublicConfirmed.model_validate(fields | {"customer_session_token": None})
    return CheckoutPublic.model_validate(fields)


def emission(
    session: AsyncSession, event_type: WebhookEventType, checkout: CheckoutModel
) -> Emission:
    """``event_type`` for the checkout, serialized only if an endpoint listens (emit it after
    the checkout is flushed)."""

    async def data() -> Checkout:
        return await checkout_schema(session, checkout)

    return Emission(checkout.organization_id, event_type, f"checkout:{checkout.id}", data)


async def emit(
    session: AsyncSession,
    event_type: WebhookEventType,
    checkout: CheckoutModel,
    writes: sql.Writes | None = None,
) -> Checkout | None:
    """Emit ``event_type`` (now, or with ``writes``); returns the serialized checkout if an
    endpoint listened."""
    await session.flush()
    schema: Checkout | None = None

    async def data() -> Checkout:
        nonlocal schema
        schema = await checkout_schema(session, checkout)
        return schema

    await webhook_service.emit(
        session, checkout.organization_id, event_type, f"checkout:{checkout.id}", data, writes
    )
    return schema


async def emit_and_serialize(
    session: AsyncSession, event_type: WebhookEventType, checkout: CheckoutModel
) -> Checkout:
    """Emit ``event_type`` and return the merchant's form of the checkout, serialized once."""
    return await emit(session, event_type, checkout) or await checkout_schema(session, checkout)
