from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select, update

from kassa.kit.repository import TenantRepository
from kassa.models import OrganizationAccessToken


class OrganizationAccessTokenRepository(TenantRepository[OrganizationAccessToken]):
    model = OrganizationAccessToken

    def scoped(self, organization_id: uuid.UUID) -> Select[OrganizationAccessToken]:
        return super().scoped(organization_id).where(OrganizationAccessToken.revoked_at.is_(None))

    async def get_by_hash(self, token_hash: bytes) -> OrganizationAccessToken | None:
        statement = select(OrganizationAccessToken).where(
            OrganizationAccessToken.token_hash == token_hash
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def touch(self, token_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(OrganizationAccessToken)
            .where(OrganizationAccessToken.id == token_id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
