from __future__ import annotations

import re
import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.kit.errors import ResourceNotFound, ValidationFailed
from kassa.models import Organization
from kassa.organization.repository import OrganizationRepository

_SLUG_INVALID = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    return _SLUG_INVALID.sub("-", name.lower()).strip("-")[:100] or "organization"


async def create_organization(
    session: AsyncSession, name: str, slug: str | None = None, email: str | None = None
) -> Organization:
    repository = OrganizationRepository(session)
    if slug is not None:
        if slug != slugify(slug):
            raise ValidationFailed.field(("slug",), "Slugs are lower-case letters, digits and -")
        if await repository.slug_taken(slug):
            raise ValidationFailed.field(("slug",), f"The slug {slug!r} is taken")
    else:
        slug = slugify(name)
        while await repository.slug_taken(slug):
            slug = f"{slugify(name)[:90]}-{secrets.token_hex(3)}"
    return await repository.add(Organization(name=name, slug=slug, email=email))


async def get_organization(
    session: AsyncSession, subject_organization_id: uuid.UUID, organization_id: uuid.UUID
) -> Organization:
    if organization_id != subject_organization_id:
        raise ResourceNotFound()
    organization = await OrganizationRepository(session).get(organization_id)
    if organization is None:
        raise ResourceNotFound()
    return organization
