"""Organizations as the rows plain-SQL tests write and look for."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.kit import sql
from kassa.kit.db import session_scope
from kassa.models import Organization


def new_organization(slug: str | None = None, **fields: object) -> Organization:
    """A new organization (a value), with a fresh slug unless given one."""
    return Organization(name="Plain SQL", slug=slug or f"sql-{secrets.token_hex(4)}", **fields)


async def store(
    sessionmaker: async_sessionmaker[AsyncSession], *organizations: Organization
) -> None:
    """Insert ``organizations`` and commit."""
    async with session_scope(sessionmaker) as session:
        await sql.insert(session, organizations)


async def stored_slugs(sessionmaker: async_sessionmaker[AsyncSession], *wanted: str) -> set[str]:
    """Which of ``wanted`` are stored."""
    async with sessionmaker() as session:
        found = await session.scalars(
            select(Organization.slug).where(Organization.slug.in_(wanted))
        )
        return set(found)
