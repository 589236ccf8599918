from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from kassa.auth.dependencies import Authorize
from kassa.auth.scopes import Scope
from kassa.auth.service import AuthSubject
from kassa.kit.db import DbSession
from kassa.kit.errors import not_found_response
from kassa.kit.pagination import ListResource, PaginationQuery
from kassa.organization import service
from kassa.organization.schemas import Organization, OrganizationSortProperty, organization_schema

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])

OrganizationsRead = Annotated[
    AuthSubject, Depends(Authorize(Scope.organizations_read, Scope.organizations_write))
]


@router.get("/", summary="List Organizations")
async def list_organizations(
    subject: OrganizationsRead,
    session: DbSession,
    pagination: PaginationQuery,
    slug: Annotated[str | None, Query(description="Filter by slug.")] = None,
    sorting: Annotated[list[OrganizationSortProperty] | None, Query()] = None,
) -> ListResource[Organization]:
    """List organizations visible to the token: its own."""
    organization = await service.get_organization(
        session, subject.organization_id, subject.organization_id
    )
    matches = [organization] if slug is None or organization.slug == slug else []
    visible = matches[pagination.offset : pagination.offset + pagination.limit]
    return ListResource.build([organization_schema(o) for o in visible], len(matches), pagination)


@router.get(
    "/{id}",
    summary="Get Organization",
    responses=not_found_response("Organization"),
)
async def get_organization(
    id: uuid.UUID, subject: OrganizationsRead, session: DbSession
) -> Organization:
    """Get an organization by ID."""
    organization = await service.get_organization(session, subject.organization_id, id)
    return organization_schema(organization)
