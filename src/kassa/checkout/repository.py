"""Checkouts, their products and links.

A checkout is read and written with plain SQL (``kit.sql``): creating, confirming and settling
one is Kassa's hottest path. A ``Checkout`` instance read here is a value, not attached to the
session: services change it and then ``save`` it (or ``insert`` a new one). Lists still go
through the ORM (``filtered``), read only. Products are read with their prices the same way,
once per transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, groupby

import asyncpg
from sqlalchemy import Select, select

from kassa.checkout.errors import CheckoutLocked
from kassa.checkout.schemas import CheckoutListFilters
from kassa.kit import sql, versioned
from kassa.kit.db import transaction_cache
from kassa.kit.repository import TenantRepository, apply_sorting, contains_text
from kassa.kit.versioned import VersionedCache
from kassa.models import Checkout, CheckoutLink, Customer, Organization, Product, ProductPrice

# What ``save`` writes: every column a checkout's life changes (not its identity or creation;
# ``modified_at`` is set by every update).
MUTABLE = tuple(
    key
    for key in sql.keys(Checkout)
    if key
    not in {
        "id",
        "organization_id",
        "client_secret",
        "url",
        "processor",
        "created_at",
        "modified_at",
    }
)

_CHECKOUT = "SELECT c.* FROM checkouts c"
_WITH_ORGANIZATION = (
    f"SELECT c.*, {sql.columns(Organization, 'o', 'o_')} FROM checkouts c "  # noqa: S608
    "JOIN organizations o ON o.id = c.organization_id WHERE c.client_secret = $1"
)
_MATCHED_BY_EMAIL = 3
# A confirm locks its checkout and, in the same round trip, looks up the live customer it is
# for, in the order ``find_or_create_customer`` asks: the one it names (1), else the one with
# its external id (2), else with its email (3: ``$2``, the email the confirm brings, or the
# checkout's). The keys it looked up with come back too. Each way is its own branch, so each
# is one probe of its unique index, however many customers the organization has (one search
# with the three ORed together scans all of them).
_LIVE_CUSTOMER = (
    "SELECT * FROM customers WHERE organization_id = c.organization_id AND deleted_at IS NULL"
)
_FOR_CONFIRM = (
    f"SELECT c.*, c.xmin AS row_version, {sql.columns(Organization, 'o', 'o_')}, "  # noqa: S608
    f"{sql.columns(Customer, 'cu', 'cu_')}, cu.matched_by AS cu_matched_by, "
    "coalesce($2, c.customer_email) AS looked_up_email FROM checkouts c "
    "JOIN organizations o ON o.id = c.organization_id "
    "LEFT JOIN LATERAL (SELECT * FROM ("
    f"(SELECT *, 1 AS matched_by FROM ({_LIVE_CUSTOMER} AND id = c.customer_id) named) "
    f"UNION ALL (SELECT *, 2 FROM ({_LIVE_CUSTOMER} AND external_id = c.external_customer_id) "
    "external) "
    f"UNION ALL (SELECT *, {_MATCHED_BY_EMAIL} FROM ({_LIVE_CUSTOMER} "
    "AND lower(email) = lower(coalesce($2, c.customer_email))) by_email)"
    ") found ORDER BY matched_by LIMIT 1) cu ON true "
    "WHERE c.client_secret = $1"
)
_LOCK_FOR_CONFIRM = f"{_FOR_CONFIRM} FOR UPDATE OF c NOWAIT"
_PRODUCTS = (
    f"SELECT {sql.columns(Product, 'p', 'p_')}, {sql.columns(ProductPrice, 'pp', 'pp_')}, "  # noqa: S608
    "o.catalog_version FROM products p JOIN organizations o ON o.id = p.organization_id "
    "LEFT JOIN product_prices pp ON pp.product_id = p.id "
    "WHERE p.id = ANY($1::uuid[]) AND ($2::uuid IS NULL OR p.organization_id = $2) "
    "ORDER BY p.id, pp.created_at, pp.id"
)
_LOCK_PAYING = (
    f"SELECT c.*, {sql.columns(Customer, 'cu', 'cu_')}, "  # noqa: S608
    "o.catalog_version AS o_catalog_version, o.webhooks_version AS o_webhooks_version, "
    "EXISTS (SELECT 1 FROM orders WHERE orders.checkout_id = c.id) AS has_order "
    "FROM checkouts c JOIN organizations o ON o.id = c.organization_id "
    "LEFT JOIN customers cu ON cu.id = c.customer_id "
    "WHERE c.id = ANY($1::uuid[]) ORDER BY c.id FOR UPDATE OF c"
)
# An organization's products with their prices (values shared by the whole process).
_CATALOG: VersionedCache[dict[uuid.UUID, Product]] = VersionedCache("catalog")
_PRODUCT_OF_PRICE = "SELECT product_id FROM product_prices WHERE id = $1"


@dataclass(frozen=True, slots=True)
class PayingCheckout:
    checkout: Checkout
    customer: Customer | None
    has_order: bool


@dataclass(frozen=True, slots=True)
class CustomerLookup:
    """The live customer found for a checkout's keys (customer id, external id, email), and
    whether by its email (neither named by the checkout nor of its external id)."""

    customer_id: uuid.UUID | None
    external_id: str | None
    email: str | None
    customer: Customer | None
    by_email: bool

    def answers(self, checkout: Checkout) -> bool:
        """Whether it was looked up with the keys the checkout has now."""
        email = None if checkout.customer_email is None else str(checkout.customer_email)
        keys = (checkout.customer_id, checkout.external_customer_id, email)
        return (self.customer_id, self.external_id, self.email) == keys


@dataclass(frozen=True, slots=True)
class ForConfirm:
    checkout: Checkout
    lookup: CustomerLookup
    version: int  # the checkout row's xmin as read


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

    async def _one(self, query: str, *args: object) -> Checkout | None:
        row = await (await sql.connection(self.session)).fetchrow(query, *args)
        return None if row is None else sql.instance(Checkout, row)

    async def get(
        self, organization_id: uuid.UUID, id: uuid.UUID, *, for_update: bool = False
    ) -> Checkout | None:
        lock = " FOR UPDATE" if for_update else ""
        return await self._one(
            f"{_CHECKOUT} WHERE c.id = $1 AND c.organization_id = $2{lock}", id, organization_id
        )

    async def by_client_secret(self, client_secret: str, *, lock: bool = False) -> Checkout | None:
        """The organization comes along (the customer's pages show it) in the same round trip;
        only the checkout is locked."""
        query = f"{_WITH_ORGANIZATION} FOR UPDATE OF c" if lock else _WITH_ORGANIZATION
        row = await (await sql.connection(self.session)).fetchrow(query, client_secret)
        return None if row is None else self._with_organization(row)

    async def for_confirm(
        self, client_secret: str, email: str | None, *, lock: bool
    ) -> ForConfirm | None:
        """The checkout with its organization as ``by_client_secret`` reads them, and its
        customer looked up with ``email`` (or the checkout's own email when None). ``lock``:
        the checkout locked in the session's transaction (a row another transaction holds
        raises ``CheckoutLocked`` at once); else read without a lock, before any transaction
        begins, for an optimistic write (``save`` with the version read)."""
        raw = await (sql.connection if lock else sql.reading_connection)(self.session)
        try:
            row = await raw.fetchrow(
                _LOCK_FOR_CONFIRM if lock else _FOR_CONFIRM, client_secret, email
            )
        except asyncpg.LockNotAvailableError as error:
            raise CheckoutLocked() from error
        if row is None:
            return None
        checkout = self._with_organization(row)
        found = row["cu_id"] is not None
        lookup = CustomerLookup(
            customer_id=checkout.customer_id,
            external_id=checkout.external_customer_id,
            email=row["looked_up_email"],
            customer=sql.instance(Customer, row, "cu_") if found else None,
            by_email=row["cu_matched_by"] == _MATCHED_BY_EMAIL,
        )
        return ForConfirm(checkout, lookup, row["row_version"])

    def _with_organization(self, row: asyncpg.Record) -> Checkout:
        organization = sql.instance(Organization, row, "o_")
        transaction_cache(self.session, "organizations")[organization.id] = organization
        versioned.remember_both(
            self.session,
            organization.id,
            organization.catalog_version,
            organization.webhooks_version,
        )
        return sql.instance(Checkout, row)

    async def organization(self, organization_id: uuid.UUID) -> Organization | None:
        """The organization, from this transaction's ``by_client_secret`` if it read it."""
        cached = transaction_cache(self.session, "organizations").get(organization_id)
        return cached or await self.session.get(Organization, organization_id)

    async def lock(self, checkout_id: uuid.UUID) -> Checkout | None:
        return await self._one(f"{_CHECKOUT} WHERE c.id = $1 FOR UPDATE", checkout_id)

    async def lock_paying(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PayingCheckout]:
        """Lock checkouts about to be paid, in id order (the order concurrent batches use),
        with their customers and whether they have an order already, in one round trip."""
        rows = await (await sql.connection(self.session)).fetch(_LOCK_PAYING, list(ids))
        paying: dict[uuid.UUID, PayingCheckout] = {}
        for row in rows:
            checkout = sql.instance(Checkout, row)
            customer = sql.instance(Customer, row, "cu_") if row["cu_id"] else None
            paying[checkout.id] = PayingCheckout(checkout, customer, row["has_order"])
            versioned.remember_both(
                self.session,
                checkout.organization_id,
                row["o_catalog_version"],
                row["o_webhooks_version"],
            )
        return paying

    async def expired_open(self, now: datetime, limit: int) -> list[Checkout]:
        rows = await (await sql.connection(self.session)).fetch(
            f"{_CHECKOUT} WHERE c.status = 'open' AND c.expires_at <= $1 "
            "ORDER BY c.expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [sql.instance(Checkout, row) for row in rows]

    async def insert(self, checkout: Checkout, writes: sql.Writes | None = None) -> None:
        await sql.insert(self.session, [checkout], writes)

    async def save(
        self,
        checkout: Checkout,
        writes: sql.Writes | None = None,
        *,
        read_version: int | None = None,
    ) -> None:
        """Write a checkout read from this repository back, with everything that can change
        (now, or with ``writes``); with ``read_version``, only if it has not changed since it
        was read at that version (else ``asyncpg.SerializationError``, see ``sql.update``)."""
        await sql.update(self.session, checkout, MUTABLE, writes, read_version=read_version)

    async def mark_succeeded(
        self, checkouts: Sequence[Checkout], now: datetime, writes: sql.Writes | None = None
    ) -> None:
        """Record that these checkouts were paid, in one statement (or with ``writes``)."""
        for checkout in checkouts:
            checkout.status, checkout.payment_error, checkout.modified_at = "succeeded", None, now
        if checkouts:
            await sql.write(
                self.session,
                writes,
                "UPDATE checkouts SET status = 'succeeded', payment_error = NULL, modified_at = $2 "
                "WHERE id = ANY($1::uuid[])",
                [checkout.id for checkout in checkouts],
                now,
            )

    async def products(self, organization_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[Product]:
        """The organization's products among ``ids``, in that order. Read once per transaction:
        a checkout's request selects, prices and serializes the same products several times."""
        cache = await self.preload_products(ids, organization_id)
        return [cache[i] for i in ids if i in cache and cache[i].organization_id == organization_id]

    async def preload_products(
        self, ids: Sequence[uuid.UUID], organization_id: uuid.UUID | None = None
    ) -> dict[uuid.UUID, Product]:
        """Read the products among ``ids`` not yet in the transaction's cache (of any
        organization unless one is given), with their prices, in one query; the cache.

        An organization's products are also kept for the whole process while its catalog
        does not change (``kit.versioned``): then there is nothing to read at all.
        """
        cache: dict[uuid.UUID, Product] = transaction_cache(self.session, "products")
        missing = [i for i in dict.fromkeys(ids) if i not in cache]
        shared = (
            _CATALOG.get(self.session, organization_id) if missing and organization_id else None
        )
        if shared is not None:
            cache.update((i, shared[i]) for i in missing if i in shared)
            missing = [i for i in missing if i not in cache]
        if missing:
            rows = await (await sql.connection(self.session)).fetch(
                _PRODUCTS, missing, organization_id
            )
            read: dict[uuid.UUID, Product] = {}
            for _, product_rows in groupby(rows, key=lambda row: row["p_id"]):
                product = _product_with_prices(list(product_rows))
                read[product.id] = product
            cache.update(read)
            if organization_id is not None and rows:
                version = rows[0]["catalog_version"]
                known = _CATALOG.at(organization_id, version) or {}
                _CATALOG.put(self.session, organization_id, version, known | read)
        return cache

    async def price_with_product(
        self, organization_id: uuid.UUID, price_id: uuid.UUID
    ) -> tuple[ProductPrice, Product] | None:
        product_id = self._product_of_cached_price(organization_id, price_id)
        if product_id is None:
            product_id = await (await sql.connection(self.session)).fetchval(
                _PRODUCT_OF_PRICE, price_id
            )
        if product_id is None:
            return None
        found = await self.products(organization_id, [product_id])
        prices = [price for product in found for price in product.prices if price.id == price_id]
        return (prices[0], found[0]) if prices else None

    def _product_of_cached_price(
        self, organization_id: uuid.UUID, price_id: uuid.UUID
    ) -> uuid.UUID | None:
        """The product of ``price_id`` among those this transaction or process holds."""
        catalog = _CATALOG.get(self.session, organization_id) or {}
        held: dict[uuid.UUID, Product] = transaction_cache(self.session, "products")
        for product in chain(held.values(), catalog.values()):
            if any(price.id == price_id for price in product.prices):
                return product.id
        return None


def _product_with_prices(rows: Sequence[asyncpg.Record]) -> Product:
    """A product (a value) with its prices, oldest first, from rows of ``_PRODUCTS``."""
    product = sql.instance(Product, rows[0], "p_")
    product.prices = [sql.instance(ProductPrice, row, "pp_") for row in rows if row["pp_id"]]
    return product


class CheckoutLinkRepository(TenantRepository[CheckoutLink]):
    model = CheckoutLink

    def scoped(self, organization_id: uuid.UUID) -> Select[CheckoutLink]:
        return super().scoped(organization_id).where(CheckoutLink.deleted_at.is_(None))

    async def by_client_secret(self, client_secret: str) -> CheckoutLink | None:
        statement = select(CheckoutLink).where(
            CheckoutLink.client_secret == client_secret, CheckoutLink.deleted_at.is_(None)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()
