from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, Uuid, cast, null, select

from kassa.kit.repository import TenantRepository, apply_sorting, metadata_filter
from kassa.models import Customer, Order, Product
from kassa.order.schemas import OrderListFilters


class OrderRepository(TenantRepository[Order]):
    model = Order

    def filtered(
        self,
        organization_id: uuid.UUID,
        filters: OrderListFilters,
        sorting: Sequence[str],
        metadata: dict[str, list[str]] | None = None,
    ) -> Select[Order]:
        statement = self.scoped(organization_id)
        if filters.organization_id is not None:
            statement = statement.where(Order.organization_id.in_(filters.organization_id))
        if filters.product_id is not None:
            statement = statement.where(Order.product_id.in_(filters.product_id))
        if filters.product_billing_type:
            kinds = set(filters.product_billing_type)
            if "one_time" not in kinds:  # only one-time products can be ordered so far
                statement = statement.where(Order.product_id.is_(None))
        if filters.discount_id is not None:
            statement = statement.where(Order.discount_id.in_(filters.discount_id))
        if filters.customer_id is not None:
            statement = statement.where(Order.customer_id.in_(filters.customer_id))
        if filters.external_customer_id is not None:
            statement = statement.where(
                Order.customer_id.in_(
                    select(Customer.id).where(
                        Customer.organization_id == organization_id,
                        Customer.external_id.in_(filters.external_customer_id),
                    )
                )
            )
        if filters.checkout_id is not None:
            statement = statement.where(Order.checkout_id.in_(filters.checkout_id))
        if filters.status is not None:
            statement = statement.where(Order.status.in_([str(s) for s in filters.status]))
        if metadata:
            statement = statement.where(*metadata_filter(Order.user_metadata, metadata))
        return apply_sorting(
            statement,
            sorting,
            {
                "created_at": Order.created_at,
                "status": Order.status,
                "invoice_number": Order.invoice_number,
                "amount": Order.total_amount,
                "net_amount": Order.net_amount,
                "customer": select(Customer.email)
                .where(Customer.id == Order.customer_id)
                .scalar_subquery(),
                "product": select(Product.name)
                .where(Product.id == Order.product_id)
                .scalar_subquery(),
                "discount": Order.discount_id,
                # No order belongs to a subscription yet: the tie-breaker decides.
                "subscription": cast(null(), Uuid),
            },
            Order.id,
        )

    async def by_checkout(self, checkout_id: uuid.UUID) -> Order | None:
        statement = select(Order).where(Order.checkout_id == checkout_id)
        return (await self.session.execute(statement)).scalar_one_or_none()
