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
    catalog_version: int  # of the organization (``kit.versioned``)
    webhooks_version: int


class OrganizationAccessTokenRepository(TenantRepository[OrganizationAccessToken]):
    model = OrganizationAccessToken

    def scoped(self, organization_id: uuid.UUID) -> Select[OrganizationAccessToken]:
        return super().scoped(organization_id).where(OrganizationAccessToken.revoked_at.is_(None))

    # Every authenticated request runs these: plain SQL (``kit.sql``).
    async def grant_by_hash(self, token_hash: bytes) -> TokenGrant | None:
        # A read that locks nothing: a request that then writes one statement (deferred, such
        # as creating a checkout) makes no BEGIN and no COMMIT.
        connection = await sql.reading_connection(self.session)
        row = await connection.fetchrow(_GRANT_BY_HASH, token_hash)
        return None if row is None else TokenGrant(*row)

    async def touch(self, token_id: uuid.UUID, now: datetime) -> None:
        await (await sql.connection(self.session)).execute(_TOUCH, token_id, now)


_GRANT_BY_HASH = """
    SELECT token.id, token.organization_id, token.scopes, token.expires_at, token.last_used_at,
           token.revoked_at, organization.catalog_version, organization.webhooks_version
    FROM organization_access_tokens token
    JOIN organizations organization ON organization.id = token.organization_id
    WHERE token.token_hash = $1
"""
_TOUCH = "UPDATE organization_access_tokens SET last_used_at = $2 WHERE id = $1"
