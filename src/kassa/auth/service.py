from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.auth.repository import OrganizationAccessTokenRepository
from kassa.auth.scopes import Scope
from kassa.auth.tokens import generate_token, hash_token, looks_like_token
from kassa.kit import versioned
from kassa.kit.clock import utc_now
from kassa.kit.errors import NotPermitted, ValidationFailed
from kassa.kit.pagination import PaginationParams
from kassa.kit.repository import apply_sorting
from kassa.models import OrganizationAccessToken

# How stale ``last_used_at`` may get before a request writes it again.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class AuthSubject:
    """Who is calling: an organization, through one of its access tokens."""

    organization_id: uuid.UUID
    token_id: uuid.UUID
    scopes: frozenset[str]

    def has_any(self, scopes: Collection[str]) -> bool:
        return not self.scopes.isdisjoint(scopes)


async def authenticate(session: AsyncSession, token: str, secret_key: bytes) -> AuthSubject | None:
    """The subject for a bearer token, or None if it is unknown, revoked or expired."""
    if not looks_like_token(token):
        return None
    repository = OrganizationAccessTokenRepository(session)
    row = await repository.grant_by_hash(hash_token(token, secret_key))
    now = utc_now()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        await repository.touch(row.id, now)
    versioned.remember_both(session, row.organization_id, row.catalog_version, row.webhooks_version)
    return AuthSubject(
        organization_id=row.organization_id, token_id=row.id, scopes=frozenset(row.scopes)
    )


async def create_token(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    comment: str,
    scopes: Collection[Scope],
    expires_in: timedelta | None,
    secret_key: bytes,
) -> tuple[OrganizationAccessToken, str]:
    token = generate_token()
    row = OrganizationAccessToken(
        organization_id=organization_id,
        token_hash=hash_token(token, secret_key),
        comment=comment,
        scopes=sorted(str(scope) for scope in set(scopes)),
        expires_at=utc_now() + expires_in if expires_in else None,
    )
    await OrganizationAccessTokenRepository(session).add(row)
    return row, token


def ensure_can_grant(subject: AuthSubject, scopes: Collection[Scope]) -> None:
    """A token cannot mint or widen a token beyond its own scopes."""
    missing = sorted(str(scope) for scope in scopes if str(scope) not in subject.scopes)
    if missing:
        raise NotPermitted(f"Your token cannot grant scopes it does not have: {', '.join(missing)}")


async def list_tokens(
    session: AsyncSession,
    organization_id: uuid.UUID,
    params: PaginationParams,
    sorting: Sequence[str],
) -> tuple[Sequence[OrganizationAccessToken], int]:
    repository = OrganizationAccessTokenRepository(session)
    statement = apply_sorting(
        repository.scoped(organization_id),
        sorting,
        {
            "created_at": OrganizationAccessToken.created_at,
            "comment": OrganizationAccessToken.comment,
            "last_used_at": OrganizationAccessToken.last_used_at,
            "organization_id": OrganizationAccessToken.organization_id,
        },
        OrganizationAccessToken.id,
    )
    return await repository.paginate(statement, params)


async def get_token(
    session: AsyncSession, organization_id: uuid.UUID, token_id: uuid.UUID
) -> OrganizationAccessToken:
    return await OrganizationAccessTokenRepository(session).get_or_404(
        organization_id, token_id, for_update=True
    )


async def update_token(
    session: AsyncSession,
    row: OrganizationAccessToken,
    *,
    comment: str | None,
    scopes: Collection[Scope] | None,
) -> OrganizationAccessToken:
    if comment is not None:
        row.comment = comment
    if scopes is not None:
        row.scopes = sorted(str(scope) for scope in set(scopes))
    await session.flush()
    return row


async def revoke_token(session: AsyncSession, row: OrganizationAccessToken) -> None:
    row.revoked_at = utc_now()
    await session.flush()


def organization_for(subject: AuthSubject, requested: uuid.UUID | None) -> uuid.UUID:
    """The organization a create acts on: the token's own. A body naming another is refused."""
    if requested is not None and requested != subject.organization_id:
        raise ValidationFailed.field(
            ("body", "organization_id"),
            "organization_id must be the organization of the access token (or be omitted).",
            input_=str(requested),
        )
    return subject.organization_id
