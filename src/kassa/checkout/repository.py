from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import joinedload

from kassa.checkout.errors import CheckoutLocked
from kassa.checkout.schemas import CheckoutListFilters
from kassa.kit.db import transaction_cache
from kassa.kit.repository import TenantRepository, apply_sorting, contains_text
from kassa.models import Checkout, CheckoutLink, Organization, Product, ProductPrice

LOCK_NOT_AVAILABLE = "55P03"


class CheckoutRepository(TenantRepository[Checkout]):
    model = Checkout

    def filtered(
        self, organization_id: uuid.UUID, filters: CheckoutListFilters, sorting: Sequence[str]
    ) -> Select[Checkout]:
        statement = self.scoped(organization_id)
        if filters.organization_id is not None:
            statement = statement.where(Checkout.organization_id.in_(filters.organization_id))
        if filters.product_id is not None:
            statement = statement.where(Checkout.product_id.in_(filters.product_id))
        if filters.customer_id is not None:
            statement = statement.where(Checkout.customer_id.in_(filters.customer_id))
        if filters.status is not None:
            statement = statement.where(Checkout.status.in_([str(s) for s in filters.status]))
        if filters.query:
            statement = statement.where(
                contains_text(filters.query, Checkout.customer_email, Checkout.customer_name)
            )
        return apply_sorting(
            statement,
            sorting,
            {
                "created_at": Checkout.created_at,
                "expires_at": Checkout.expires_at,
                "status": Checkout.status,
            },
            Checkout.id,
        )

    async def by_client_secret(
        self, client_secret: str, *, lock: bool = False, nowait: bool = False
    ) -> Checkout | None:
        """``nowait``: a row another transaction holds raises ``CheckoutLocked`` at once.

        The organization comes along into the session (the customer's pages show it), in the
        same round trip; only the checkout is locked."""
        statement = (
            select(Checkout, Organization)
            .join(Organization, Organization.id == Checkout.organization_id)
            .where(Checkout.client_secret == client_secret)
        )
        if lock:
            statement = statement.with_for_update(of=Checkout, nowait=nowait)
        try:
            row = (await self.session.execute(statement)).first()
            if row is None:
                return None
            transaction_cache(self.session, "organizations")[row[1].id] = row[1]
            return row[0]
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise CheckoutLocked() from error
            raise

    async def organization(self, organization_id: uuid.UUID) -> Organization | None:
        """The organization, from this transaction's ``by_client_secret`` if it read it."""
        cached = transaction_cache(self.session, "organizations").get(organization_id)
        return cached or await self.session.get(Organization, organization_id)

    async def lock(self, checkout_id: uuid.UUID) -> Checkout | None:
        statement = select(Checkout).where(Checkout.id == checkout_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def lock_many(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Checkout]:
        """Lock several checkouts at once, in id order (the order concurrent batches use)."""
        statement = (
            select(Checkout).where(Checkout.id.in_(ids)).order_by(Checkout.id).with_for_update()
        )
        return {c.id: c for c in (await self.session.execute(statement)).scalars()}

    async def products(self, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[Product]:
        """The organization's products among ``ids``, in that order. Read once per transaction:
        a checkout's request selects, prices and serializes the same products several times."""
        cache = await self.preload_products(ids, organization_id)
        return [cache[i] for i in ids if i in cache and cache[i].organization_id == organization_id]

    async def preload_products(
        self, ids: Sequence[uuid.UUID], organization_id: uuid.UUID | None = None
    ) -> dict[uuid.UUID, Product]:
        """Read the products among ``ids`` not yet in the transaction's cache (of any
        organization unless one is given), with their prices, in one query; the cache."""
        cache: dict[uuid.UUID, Product] = transaction_cache(self.session, "products")
        missing = [i for i in dict.fromkeys(ids) if i not in cache]
        if missing:
            statement = (
                select(Product)
                .where(Product.id.in_(missing))
                .options(joinedload(Product.prices))  # one round trip, not two
            )
            if organization_id is not None:
                statement = statement.where(Product.organization_id == organization_id)
            rows = (await self.session.execute(statement)).unique().scalars()
            cache.update((p.id, p) for p in rows)
        return cache

    async def price_with_product(
        self, organization_id: uuid.UUID, price_id: uuid.UUID
    ) -> tuple[ProductPrice, Product] | None:
        statement = (
            select(ProductPrice, Product)
            .join(Product, Product.id == ProductPrice.product_id)
            .where(Product.organization_id == organization_id, ProductPrice.id == price_id)
        )
        row = (await self.session.execute(statement)).first()
        return None if row is None else (row[0], row[1])

    async def expired_open(self, now: datetime, limit: int) -> Sequence[Checkout]:
        statement = (
            select(Checkout)
            .where(Checkout.status == "open", Checkout.expires_at <= now)
            .order_by(Checkout.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.execute(statement)).scalars().all()


class CheckoutLinkRepository(TenantRepository[CheckoutLink]):
    model = CheckoutLink

    def scoped(self, organization_id: uuid.UUID) -> Select[CheckoutLink]:
        return super().scoped(organization_id).where(CheckoutLink.deleted_at.is_(None))

    async def by_client_secret(self, client_secret: str) -> CheckoutLink | None:
        statement = select(CheckoutLink).where(
            CheckoutLink.client_secret == client_secret, CheckoutLink.deleted_at.is_(None)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()
