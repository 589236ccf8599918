"""Preparing a database for serving: migrations, and the demo organization of a local install."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.auth import service as auth_service
from kassa.auth.scopes import ALL_SCOPES
from kassa.kit.db import session_scope
from kassa.organization import service as organization_service
from kassa.organization.repository import OrganizationRepository

DEMO_TOKEN_FILE = "demo_token"


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    organization_id: uuid.UUID
    organization_slug: str
    token_id: uuid.UUID
    token: str


async def create_organization_with_token(
    sessionmaker: async_sessionmaker[AsyncSession],
    secret_key: bytes,
    name: str,
    slug: str | None = None,
    comment: str = "Created with kassa admin",
) -> IssuedCredentials:
    async with session_scope(sessionmaker) as session:
        organization = await organization_service.create_organization(session, name, slug)
        row, token = await auth_service.create_token(
            session,
            organization.id,
            comment=comment,
            scopes=ALL_SCOPES,
            expires_in=None,
            secret_key=secret_key,
        )
        return IssuedCredentials(organization.id, organization.slug, row.id, token)


async def ensure_demo_organization(
    sessionmaker: async_sessionmaker[AsyncSession], secret_key: bytes, data_dir: Path
) -> str | None:
    """On a fresh local install, create the demo organization and keep its token in the data
    directory (readable by its owner only) so every start can print it. Returns the token."""
    token_file = data_dir / DEMO_TOKEN_FILE
    async with session_scope(sessionmaker) as session:
        has_organization = await OrganizationRepository(session).first() is not None
    if not has_organization:
        credentials = await create_organization_with_token(
            sessionmaker, secret_key, "Demo", "demo", comment="Demo token"
        )
        token_file.write_text(credentials.token)
        token_file.chmod(0o600)
    return token_file.read_text().strip() if token_file.exists() else None
