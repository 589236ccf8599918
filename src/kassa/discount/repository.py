from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ARRAY, Select, Uuid, any_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from kassa.discount.schemas import DiscountListFilters
from kassa.kit.ids import new_id
from kassa.kit.repository import TenantRepository, apply_sorting, contains_text
from kassa.models import Discount, DiscountRedemption, Product
from kassa.product.repository import ProductRepository


class DiscountRepository(TenantRepository[Discount]):
    """Discounts of an organization; deleted discounts are invisible to every tenant query."""

    model = Discount

    def scoped(self, organization_id: uuid.UUID) -> Select[Discount]:
        return super().scoped(organization_id).where(Discount.deleted_at.is_(None))

    def filtered(
        self, organization_id: uuid.UUID, filters: DiscountListFilters, sorting: Sequence[str]
    ) -> Select[Discount]:
        statement = self.scoped(organization_id)
        if filters.organization_id is not None:
            statement = statement.where(Discount.organization_id.in_(filters.organization_id))
        if filters.query:
            statement = statement.where(contains_text(filters.query, Discount.name, Discount.code))
        return apply_sorting(
            statement,
            sorting,
            {
                "created_at": Discount.created_at,
                "name": Discount.name,
                "code": Discount.code,
                "redemptions_count": Discount.redemptions_count,
                "ends_at": Discount.ends_at,
            },
            Discount.id,
        )

    async def get_by_code(self, organization_id: uuid.UUID, code: str) -> Discount | None:
        """The live discount with this code, compared case-insensitively."""
        statement = self.scoped(organization_id).where(
            Discount.code.is_not(None), func.lower(Discount.code) == func.lower(code)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def code_taken(
        self, organization_id: uuid.UUID, code: str, *, except_id: uuid.UUID | None = None
    ) -> bool:
        found = await self.get_by_code(organization_id, code)
        return found is not None and found.id != except_id

    async def products(
        self, organization_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Product]:
        """Those of the given products that belong to the organization, by id."""
        if not product_ids:
            return {}
        statement = ProductRepository(self.session).scoped(organization_id)
        # One array parameter, however long the list (asyncpg takes at most 32767 parameters).
        ids = bindparam("product_ids", list(product_ids), type_=ARRAY(Uuid))
        rows = await self.session.execute(statement.where(Product.id == any_(ids)))
        return {product.id: product for product in rows.scalars()}

    # Redemptions. Not tenant queries: they act on a discount the caller already holds.

    async def increment_redemptions(self, discount_id: uuid.UUID, now: datetime) -> int | None:
        """Count one more redemption if the discount is live and not exhausted, atomically:
        concurrent callers queue on the row lock and each sees the previous one's count.
        Returns the new count, or None when the discount cannot be redeemed."""
        statement = (
            update(Discount)
            .where(
                Discount.id == discount_id,
                Discount.deleted_at.is_(None),
                or_(Discount.starts_at.is_(None), Discount.starts_at <= now),
                or_(Discount.ends_at.is_(None), Discount.ends_at >= now),
                or_(
                    Discount.max_redemptions.is_(None),
                    Discount.redemptions_count < Discount.max_redemptions,
                ),
            )
            .values(
                redemptions_count=Discount.redemptions_count + 1,
                # A redemption is not a change made by the merchant.
                modified_at=Discount.modified_at,
            )
            .returning(Discount.redemptions_count)
            .execution_options(synchronize_session=False)
        )
        count: int | None = (await self.session.execute(statement)).scalar_one_or_none()
        return count

    async def decrement_redemptions(self, discount_id: uuid.UUID) -> int | None:
        statement = (
            update(Discount)
            .where(Discount.id == discount_id, Discount.redemptions_count > 0)
            .values(
                redemptions_count=Discount.redemptions_count - 1,
                modified_at=Discount.modified_at,
            )
            .returning(Discount.redemptions_count)
            .execution_options(synchronize_session=False)
        )
        count: int | None = (await self.session.execute(statement)).scalar_one_or_none()
        return count

    async def lock(self, discount_id: uuid.UUID) -> None:
        await self.session.execute(
            select(Discount.id).where(Discount.id == discount_id).with_for_update()
        )

    async def redemption_for_checkout(
        self, checkout_id: uuid.UUID, *, for_update: bool = False
    ) -> DiscountRedemption | None:
        statement = select(DiscountRedemption).where(DiscountRedemption.checkout_id == checkout_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def customer_redemptions(self, discount_id: uuid.UUID, customer_id: uuid.UUID) -> int:
        statement = select(func.count()).where(
            DiscountRedemption.discount_id == discount_id,
            DiscountRedemption.customer_id == customer_id,
        )
        return int(await self.session.scalar(statement) or 0)

    async def add_redemption(
        self,
        discount_id: uuid.UUID,
        checkout_id: uuid.UUID,
        customer_id: uuid.UUID | None,
        now: datetime,
    ) -> bool:
        """Record the redemption; False if this checkout already has one."""
        statement = (
            insert(DiscountRedemption)
            .values(
                id=new_id(),
                created_at=now,
                discount_id=discount_id,
                checkout_id=checkout_id,
                customer_id=customer_id,
            )
            .on_conflict_do_nothing(index_elements=[DiscountRedemption.checkout_id])
            .returning(DiscountRedemption.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def delete_redemption(self, discount_id: uuid.UUID, checkout_id: uuid.UUID) -> bool:
        statement = (
            delete(DiscountRedemption)
            .where(
                DiscountRedemption.discount_id == discount_id,
                DiscountRedemption.checkout_id == checkout_id,
            )
            .returning(DiscountRedemption.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None
