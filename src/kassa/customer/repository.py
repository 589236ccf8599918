from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, false, func

from kassa.customer.schemas import CustomerListFilters
from kassa.kit import sql
from kassa.kit.repository import TenantRepository, apply_sorting, contains_text, metadata_filter
from kassa.models import Customer


class CustomerRepository(TenantRepository[Customer]):
    """Customers of an organization; deleted customers are invisible to every query."""

    model = Customer

    def scoped(self, organization_id: uuid.UUID) -> Select[Customer]:
        return super().scoped(organization_id).where(Customer.deleted_at.is_(None))

    async def get_by_external_id(
        self, organization_id: uuid.UUID, external_id: str, *, for_update: bool = False
    ) -> Customer | None:
        statement = self.scoped(organization_id).where(Customer.external_id == external_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def email_taken(
        self, organization_id: uuid.UUID, email: str, *, except_id: uuid.UUID | None = None
    ) -> bool:
        statement = self.scoped(organization_id).where(func.lower(Customer.email) == email.lower())
        if except_id is not None:
            statement = statement.where(Customer.id != except_id)
        return (await self.session.execute(statement.limit(1))).first() is not None

    async def external_id_taken(self, organization_id: uuid.UUID, external_id: str) -> bool:
        return await self.get_by_external_id(organization_id, external_id) is not None

    def filtered(
        self, organization_id: uuid.UUID, filters: CustomerListFilters, sorting: Sequence[str]
    ) -> Select[Customer]:
        statement = self.scoped(organization_id)
        if filters.organization_id is not None:
            statement = statement.where(Customer.organization_id.in_(filters.organization_id))
        if filters.email is not None:
            statement = statement.where(func.lower(Customer.email) == filters.email.lower())
        if filters.query:
            statement = statement.where(
                contains_text(filters.query, Customer.email, Customer.name, Customer.external_id)
            )
        if filters.active:
            # Active means holding a trialing, active or past-due subscription; there are no
            # subscriptions yet, so no customer is active.
            statement = statement.where(false())
        statement = statement.where(*metadata_filter(Customer.user_metadata, filters.metadata))
        return apply_sorting(
            statement,
            sorting,
            {"created_at": Customer.created_at, "email": Customer.email, "name": Customer.name},
            Customer.id,
        )

    # A checkout's customer, found or created on every confirm: plain SQL, values.
    async def live(self, organization_id: uuid.UUID, customer_id: uuid.UUID) -> Customer | None:
        return await self._live("id = $2", organization_id, customer_id)

    async def live_by_external_id(
        self, organization_id: uuid.UUID, external_id: str
    ) -> Customer | None:
        return await self._live("external_id = $2", organization_id, external_id)

    async def live_by_email(self, organization_id: uuid.UUID, email: str) -> Customer | None:
        return await self._live("lower(email) = lower($2)", organization_id, email)

    async def _live(self, condition: str, *args: object) -> Customer | None:
        row = await (await sql.connection(self.session)).fetchrow(
            "SELECT * FROM customers "  # noqa: S608 -- conditions are this class's own
            f"WHERE organization_id = $1 AND deleted_at IS NULL AND {condition}",
            *args,
        )
        return None if row is None else sql.instance(Customer, row)

    async def insert_unless_taken(self, customer: Customer) -> bool:
        """Insert a new customer; False when its email or external id was taken meanwhile."""
        return await sql.insert_unless_conflict(self.session, customer)
