from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, false, func, select, union

from kassa.kit.repository import TenantRepository, apply_sorting, contains_text, metadata_filter
from kassa.models import Checkout, CheckoutLink, Order, Product, ProductPrice
from kassa.models.discount import DiscountProduct
from kassa.product.schemas import ProductListFilters


class ProductRepository(TenantRepository[Product]):
    model = Product

    def filtered(
        self, organization_id: uuid.UUID, filters: ProductListFilters, sorting: Sequence[str]
    ) -> Select[Product]:
        statement = self.scoped(organization_id)
        if filters.id is not None:
            statement = statement.where(Product.id.in_(filters.id))
        if filters.organization_id is not None:
            statement = statement.where(Product.organization_id.in_(filters.organization_id))
        if filters.query:
            statement = statement.where(contains_text(filters.query, Product.name))
        if filters.is_archived is not None:
            statement = statement.where(Product.is_archived.is_(filters.is_archived))
        if filters.is_recurring is not None:
            recurring = Product.recurring_interval.is_not(None)
            statement = statement.where(recurring if filters.is_recurring else ~recurring)
        if filters.benefit_id:
            # Benefits are not attached to products yet, so no product grants one.
            statement = statement.where(false())
        if filters.visibility:
            statement = statement.where(
                Product.visibility.in_([str(v) for v in filters.visibility])
            )
        statement = statement.where(*metadata_filter(Product.user_metadata, filters.metadata))
        return apply_sorting(
            statement,
            sorting,
            {
                "created_at": Product.created_at,
                "name": Product.name,
                "price_amount_type": _first_price(ProductPrice.amount_type.expression),
                "price_amount": _first_price(
                    func.coalesce(ProductPrice.price_amount, ProductPrice.minimum_amount)
                ),
            },
            Product.id,
        )

    async def referenced(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Those of ``ids`` that an order, a checkout, a checkout link or a discount refers to
        (such a product can only be archived, never deleted)."""
        if not ids:
            return set()
        wanted = list(ids)
        statement = union(
            select(Order.product_id).where(Order.product_id.in_(wanted)),
            select(Checkout.product_id).where(Checkout.product_id.in_(wanted)),
            select(DiscountProduct.c.product_id).where(DiscountProduct.c.product_id.in_(wanted)),
            select(func.unnest(CheckoutLink.product_ids)).where(
                CheckoutLink.deleted_at.is_(None), CheckoutLink.product_ids.overlap(wanted)
            ),
        )
        found = (await self.session.execute(statement)).scalars()
        return {product_id for product_id in found if product_id in ids}

    async def get_price(self, product_id: uuid.UUID, price_id: uuid.UUID) -> ProductPrice | None:
        statement = select(ProductPrice).where(
            ProductPrice.product_id == product_id, ProductPrice.id == price_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()


def _first_price(column: ColumnElement[Any]) -> ScalarSelect[Any]:
    """The value of ``column`` on a product's earliest active price, for sorting."""
    return (
        select(column)
        .where(ProductPrice.product_id == Product.id, ProductPrice.is_archived.is_(False))
        .order_by(ProductPrice.created_at)
        .limit(1)
        .correlate(Product)
        .scalar_subquery()
    )
