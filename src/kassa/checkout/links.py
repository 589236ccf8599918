"""Checkout links: stored checkout settings; opening a link's URL starts a fresh checkout."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.checkout import service
from kassa.checkout.link_schemas import CheckoutLink, CheckoutLinkCreate, CheckoutLinkUpdate
from kassa.checkout.repository import CheckoutLinkRepository, CheckoutRepository
from kassa.checkout.schemas import CheckoutCreate
from kassa.config import get_settings
from kassa.discount.serialize import discount_base_data
from kassa.kit.clock import utc_now
from kassa.kit.errors import ResourceNotFound, ValidationFailed
from kassa.kit.pagination import PaginationParams
from kassa.kit.repository import apply_sorting
from kassa.models import Checkout, Discount, Product, ProductPrice
from kassa.models import CheckoutLink as CheckoutLinkModel
from kassa.product.serialize import product_schema


async def _check_products(
    session: AsyncSession, organization_id: uuid.UUID, ids: Sequence[uuid.UUID], loc: str
) -> None:
    found = await CheckoutRepository(session).products(organization_id, ids)
    missing = [i for i in ids if i not in {p.id for p in found}]
    if missing:
        raise ValidationFailed.field(("body", loc), "Product not found.", str(missing[0]))


async def _check_discount(
    session: AsyncSession, organization_id: uuid.UUID, discount_id: uuid.UUID | None
) -> None:
    if discount_id is None:
        return
    discount = await session.get(Discount, discount_id)
    if discount is None or discount.organization_id != organization_id:
        raise ValidationFailed.field(
            ("body", "discount_id"), "Discount not found.", str(discount_id)
        )


async def create_link(
    session: AsyncSession, organization_id: uuid.UUID, body: CheckoutLinkCreate
) -> CheckoutLinkModel:
    price_id = body.product_price_id
    if price_id is not None:
        found = await CheckoutRepository(session).price_with_product(organization_id, price_id)
        if found is None:
            raise ValidationFailed.field(
                ("body", "product_price_id"), "Product price not found.", str(price_id)
            )
        product_ids = [found[1].id]
    else:
        product_ids = list(dict.fromkeys(body.products or [body.product_id]))  # type: ignore[list-item]
        loc = "products" if body.products is not None else "product_id"
        await _check_products(session, organization_id, product_ids, loc)
    await _check_discount(session, organization_id, body.discount_id)
    link = CheckoutLinkModel(
        organization_id=organization_id,
        client_secret="kassa_cl_" + secrets.token_urlsafe(32),
        processor=get_settings().payment_processor,
        label=body.label,
        product_ids=product_ids,
        product_price_id=price_id,
        discount_id=body.discount_id,
        allow_discount_codes=body.allow_discount_codes,
        require_billing_address=body.require_billing_address,
        trial_interval=str(body.trial_interval) if body.trial_interval else None,
        trial_interval_count=body.trial_interval_count,
        seats=body.seats,
        success_url=body.success_url,
        return_url=body.return_url,
        user_metadata=dict(body.metadata),
    )
    return await CheckoutLinkRepository(session).add(link)


async def list_links(
    session: AsyncSession,
    organization_id: uuid.UUID,
    product_id: Sequence[uuid.UUID] | None,
    sorting: Sequence[str],
    params: PaginationParams,
) -> tuple[Sequence[CheckoutLinkModel], int]:
    repository = CheckoutLinkRepository(session)
    statement = repository.scoped(organization_id)
    if product_id:
        statement = statement.where(CheckoutLinkModel.product_ids.overlap(list(product_id)))
    statement = apply_sorting(
        statement,
        sorting,
        {
            "created_at": CheckoutLinkModel.created_at,
            "label": CheckoutLinkModel.label,
            "success_url": CheckoutLinkModel.success_url,
            "allow_discount_codes": CheckoutLinkModel.allow_discount_codes,
        },
        CheckoutLinkModel.id,
    )
    return await repository.paginate(statement, params)


async def get_link(
    session: AsyncSession, organization_id: uuid.UUID, link_id: uuid.UUID, *, lock: bool = False
) -> CheckoutLinkModel:
    return await CheckoutLinkRepository(session).get_or_404(
        organization_id, link_id, for_update=lock
    )


async def update_link(
    session: AsyncSession, link: CheckoutLinkModel, body: CheckoutLinkUpdate
) -> CheckoutLinkModel:
    fields = body.model_fields_set
    if body.products is not None:
        products = list(dict.fromkeys(body.products))
        await _check_products(session, link.organization_id, products, "products")
        link.product_ids, link.product_price_id = products, None
    if "discount_id" in fields:
        await _check_discount(session, link.organization_id, body.discount_id)
        link.discount_id = body.discount_id
    for name in ("label", "seats", "success_url", "return_url", "trial_interval_count"):
        if name in fields:
            setattr(link, name, getattr(body, name))
    if "trial_interval" in fields:
        link.trial_interval = str(body.trial_interval) if body.trial_interval else None
    if body.allow_discount_codes is not None:
        link.allow_discount_codes = body.allow_discount_codes
    if body.require_billing_address is not None:
        link.require_billing_address = body.require_billing_address
    if body.metadata is not None:
        link.user_metadata = dict(body.metadata)
    link.modified_at = utc_now()
    await session.flush()
    return link


async def delete_link(session: AsyncSession, link: CheckoutLinkModel) -> None:
    link.deleted_at = utc_now()
    await session.flush()


async def open_link(
    session: AsyncSession,
    client_secret: str,
    base_url: str,
    *,
    customer_email: str | None = None,
    discount_code: str | None = None,
) -> Checkout:
    """A fresh checkout with the link's settings (its metadata copied onto the checkout)."""
    link = await CheckoutLinkRepository(session).by_client_secret(client_secret)
    if link is None:
        raise ResourceNotFound()
    try:
        body = _link_checkout_body(link, customer_email)
    except ValidationError as error:
        raise ValidationFailed.field(
            ("query", "customer_email"), "Not a valid email address.", customer_email
        ) from error
    checkout = await service.create_checkout(session, link.organization_id, body, base_url)
    checkout.checkout_link_id = link.id
    if discount_code and checkout.allow_discount_codes and checkout.discount_id is None:
        price = await session.get(ProductPrice, checkout.product_price_id)
        assert price is not None
        await service.reprice(
            session,
            checkout,
            price,
            requested_amount=None,
            discount_id=None,
            discount_code=discount_code,
            amount_loc=("query", "amount"),
            discount_loc=("query", "discount_code"),
        )
    await CheckoutRepository(session).save(checkout)
    return checkout


def _link_checkout_body(link: CheckoutLinkModel, customer_email: str | None) -> CheckoutCreate:
    selection: dict[str, Any] = (
        {"product_price_id": link.product_price_id}
        if link.product_price_id is not None
        else {"products": link.product_ids}
    )
    return CheckoutCreate.model_validate(
        selection
        | {
            "discount_id": link.discount_id,
            "allow_discount_codes": link.allow_discount_codes,
            "require_billing_address": link.require_billing_address,
            "trial_interval": link.trial_interval,
            "trial_interval_count": link.trial_interval_count,
            "seats": link.seats,
            "success_url": link.success_url,
            "return_url": link.return_url,
            "metadata": link.user_metadata,
            "customer_email": customer_email,
        }
    )


async def link_schema(
    session: AsyncSession, link: CheckoutLinkModel, base_url: str
) -> CheckoutLink:
    found = (
        (await session.execute(select(Product).where(Product.id.in_(link.product_ids))))
        .scalars()
        .all()
    )
    by_id = {p.id: p for p in found}
    discount = None
    if link.discount_id is not None:
        row = await session.get(Discount, link.discount_id)
        if row is not None:
            discount = discount_base_data(row)
    return CheckoutLink.model_validate(
        {
            "id": link.id,
            "created_at": link.created_at,
            "modified_at": link.modified_at,
            "trial_interval": link.trial_interval,
            "trial_interval_count": link.trial_interval_count,
            "metadata": link.user_metadata,
            "payment_processor": "stripe",
            "client_secret": link.client_secret,
            "success_url": link.success_url,
            "return_url": link.return_url,
            "label": link.label,
            "allow_discount_codes": link.allow_discount_codes,
            "require_billing_address": link.require_billing_address,
            "discount_id": link.discount_id,
            "seats": link.seats,
            "organization_id": link.organization_id,
            # The link itself refers to them: none can be deleted.
            "products": [
                product_schema(by_id[i], is_deletable=False) for i in link.product_ids if i in by_id
            ],
            "discount": discount,
            "url": f"{base_url.rstrip('/')}/checkout-links/{link.client_secret}",
        }
    )
