from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.models import Organization


class OrganizationRepository:
    """Organizations are the tenants themselves: a token sees only its own."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, organization_id: uuid.UUID) -> Organization | None:
        return await self.session.get(Organization, organization_id)

    async def slug_taken(self, slug: str) -> bool:
        statement = select(Organization.id).where(Organization.slug == slug)
        return (await self.session.execute(statement)).first() is not None

    async def first(self) -> Organization | None:
        statement = select(Organization).order_by(Organization.created_at).limit(1)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def add(self, organization: Organization) -> Organization:
        self.session.add(organization)
        await self.session.flush()
        return organization
