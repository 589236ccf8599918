from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select

from kassa.kit import sql
from kassa.kit.repository import TenantRepository
from kassa.models import OrganizationAccessToken


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What authenticating a request needs of a token's row."""

    id: uuid.UUID
    organization_id: uuid.UUID
    scopes: list[str]
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class OrganizationAccessTokenRepository(TenantRepository[OrganizationAccessToken]):
    model = OrganizationAccessToken

    def scoped(self, organization_id: uuid.UUID) -> Select[OrganizationAccessToken]:
        return super().scoped(organization_id).where(OrganizationAccessToken.revoked_at.is_(None))

    # Every authenticated request runs these: plain SQL (``kit.sql``).
    async def grant_by_hash(self, token_hash: bytes) -> TokenGrant | None:
        row = await (await sql.connection(self.session)).fetchrow(_GRANT_BY_HASH, token_hash)
        return None if row is None else TokenGrant(*row)

    async def touch(self, token_id: uuid.UUID, now: datetime) -> None:
        await (await sql.connection(self.session)).execute(_TOUCH, token_id, now)


_GRANT_BY_HASH = """
    SELECT id, organization_id, scopes, expires_at, last_used_at, revoked_at
    FROM organization_access_tokens WHERE token_hash = $1
"""
_TOUCH = "UPDATE organization_access_tokens SET last_used_at = $2 WHERE id = $1"
