from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.kit import versioned
from kassa.kit.errors import ValidationFailed
from kassa.kit.pagination import PaginationParams
from kassa.models import Product, ProductPrice
from kassa.product.repository import ProductRepository
from kassa.product.schemas import (
    ExistingProductPrice,
    ProductCreate,
    ProductListFilters,
    ProductPriceCreate,
    ProductPriceCustomCreate,
    ProductPriceFixedCreate,
    ProductUpdate,
)
from kassa.product.schemas import Product as ProductSchema
from kassa.product.serialize import product_schema
from kassa.webhook import service as webhook_service
from kassa.webhook.schemas import WebhookEventType


async def serialized(session: AsyncSession, products: Sequence[Product]) -> list[ProductSchema]:
    """API forms of ``products``, with ``is_deletable`` read in one query."""
    referenced = await ProductRepository(session).referenced([p.id for p in products])
    return [product_schema(p, is_deletable=p.id not in referenced) for p in products]


async def _emit(session: AsyncSession, event_type: WebhookEventType, product: Product) -> None:
    """Announce a change of ``product`` (made in this transaction, which therefore no longer
    trusts the catalog version it read)."""
    versioned.forget(session, "catalog")

    async def data() -> ProductSchema:
        [schema] = await serialized(session, [product])
        return schema

    await webhook_service.emit(
        session, product.organization_id, event_type, f"product:{product.id}", data
    )


def _price_row(price: ProductPriceCreate) -> ProductPrice:
    row = ProductPrice(
        price_currency=price.price_currency,
        tax_behavior=str(price.tax_behavior) if price.tax_behavior else None,
    )
    if isinstance(price, ProductPriceFixedCreate):
        row.amount_type, row.price_amount = "fixed", price.price_amount
    elif isinstance(price, ProductPriceCustomCreate):
        row.amount_type = "custom"
        row.minimum_amount = price.minimum_amount
        row.maximum_amount = price.maximum_amount
        row.preset_amount = price.preset_amount
    else:
        row.amount_type, row.price_amount = "fixed", 0
    return row


def _check_one_price_per_currency(prices: Sequence[ProductPrice], field: str) -> None:
    seen: set[str] = set()
    for index, price in enumerate(prices):
        if price.price_currency in seen:
            raise ValidationFailed.field(
                ("body", field, index),
                f"A product has at most one price per currency ({price.price_currency}).",
            )
        seen.add(price.price_currency)


def _check_not_unsupported(body: ProductCreate | ProductUpdate) -> None:
    if body.medias:
        raise ValidationFailed.field(("body", "medias"), "Unknown media file.", input_=None)
    if body.attached_custom_fields:
        raise ValidationFailed.field(
            ("body", "attached_custom_fields"), "Unknown custom field.", input_=None
        )


async def create_product(
    session: AsyncSession, organization_id: uuid.UUID, body: ProductCreate
) -> Product:
    _check_not_unsupported(body)
    prices = [_price_row(price) for price in body.prices]
    _check_one_price_per_currency(prices, "prices")
    product = Product(
        organization_id=organization_id,
        name=body.name,
        description=body.description,
        visibility=str(body.visibility),
        recurring_interval=str(body.recurring_interval) if body.recurring_interval else None,
        recurring_interval_count=body.recurring_interval_count,
        trial_interval=str(body.trial_interval) if body.trial_interval else None,
        trial_interval_count=body.trial_interval_count,
        user_metadata=dict(body.metadata),
        prices=prices,
    )
    await ProductRepository(session).add(product)
    await _emit(session, WebhookEventType.product_created, product)
    return product


async def list_products(
    session: AsyncSession,
    organization_id: uuid.UUID,
    filters: ProductListFilters,
    sorting: Sequence[str],
    params: PaginationParams,
) -> tuple[Sequence[Product], int]:
    repository = ProductRepository(session)
    return await repository.paginate(repository.filtered(organization_id, filters, sorting), params)


async def get_product(
    session: AsyncSession, organization_id: uuid.UUID, product_id: uuid.UUID, *, lock: bool = False
) -> Product:
    return await ProductRepository(session).get_or_404(organization_id, product_id, for_update=lock)


async def update_product(
    session: AsyncSession, organization_id: uuid.UUID, product_id: uuid.UUID, body: ProductUpdate
) -> Product:
    product = await get_product(session, organization_id, product_id, lock=True)
    _check_not_unsupported(body)
    fields = body.model_fields_set
    if "name" in fields and body.name is not None:
        product.name = body.name
    if "description" in fields:
        product.description = body.description
    if "visibility" in fields and body.visibility is not None:
        product.visibility = str(body.visibility)
    if "is_archived" in fields and body.is_archived is not None:
        product.is_archived = body.is_archived
    if "metadata" in fields and body.metadata is not None:
        product.user_metadata = dict(body.metadata)
    _update_recurrence(product, body)
    if body.prices is not None:
        await _replace_prices(session, product, body.prices)
    await session.flush()
    await session.refresh(product, attribute_names=["prices"])
    await _emit(session, WebhookEventType.product_updated, product)
    return product


def _update_recurrence(product: Product, body: ProductUpdate) -> None:
    fields = body.model_fields_set
    # The contract: once set, the billing interval cannot change (subscriptions rely on it).
    for field, new, current in (
        ("recurring_interval", body.recurring_interval, product.recurring_interval),
        (
            "recurring_interval_count",
            body.recurring_interval_count,
            product.recurring_interval_count,
        ),
    ):
        if new is not None and (str(new) if field == "recurring_interval" else new) != current:
            message = (
                "A one-time product cannot become recurring; create a new product."
                if not product.is_recurring
                else f"{field} cannot be changed once set; create a new product."
            )
            location = field if product.is_recurring else "recurring_interval"
            raise ValidationFailed.field(("body", location), message, new)
    if "trial_interval" in fields or "trial_interval_count" in fields:
        if (body.trial_interval is None) != (body.trial_interval_count is None):
            raise ValidationFailed.field(
                ("body", "trial_interval"), "trial_interval and trial_interval_count go together"
            )
        if body.trial_interval is not None and not product.is_recurring:
            raise ValidationFailed.field(
                ("body", "trial_interval"), "Only recurring products can have a trial"
            )
        product.trial_interval = str(body.trial_interval) if body.trial_interval else None
        product.trial_interval_count = body.trial_interval_count


async def _replace_prices(
    session: AsyncSession,
    product: Product,
    prices: Sequence[ExistingProductPrice | ProductPriceCreate],
) -> None:
    """The given list becomes the product's active prices: kept ids stay, new prices are
    added, and prices not listed are archived (never deleted: orders refer to them)."""
    repository = ProductRepository(session)
    kept: list[ProductPrice] = []
    for index, price in enumerate(prices):
        if isinstance(price, ExistingProductPrice):
            existing = await repository.get_price(product.id, price.id)
            if existing is None or existing.is_archived:
                raise ValidationFailed.field(
                    ("body", "prices", index, "id"),
                    "Price not found on this product.",
                    input_=str(price.id),
                )
            kept.append(existing)
        else:
            row = _price_row(price)
            row.product_id = product.id
            session.add(row)
            kept.append(row)
    _check_one_price_per_currency(kept, "prices")
    kept_ids = {price.id for price in kept if price.id is not None}
    for current in product.prices:
        if current.id not in kept_ids and not current.is_archived:
            current.is_archived = True
