"""Organization access tokens (`/v1/organization-access-tokens/`).

Managing tokens needs the `organization_access_tokens:*` scopes, which only tokens issued by an
operator (`kassa admin create-token`) carry.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from kassa.auth import service
from kassa.auth.dependencies import Authorize
from kassa.auth.schemas import (
    OrganizationAccessToken,
    OrganizationAccessTokenCreate,
    OrganizationAccessTokenCreateResponse,
    OrganizationAccessTokenSortProperty,
    OrganizationAccessTokenUpdate,
)
from kassa.auth.scopes import Scope
from kassa.auth.service import AuthSubject
from kassa.kit.db import DbSession
from kassa.kit.pagination import ListResource, PaginationQuery

router = APIRouter(prefix="/v1/organization-access-tokens", tags=["organization_access_tokens"])

TokensRead = Annotated[
    AuthSubject,
    Depends(
        Authorize(Scope.organization_access_tokens_read, Scope.organization_access_tokens_write)
    ),
]
TokensWrite = Annotated[AuthSubject, Depends(Authorize(Scope.organization_access_tokens_write))]


@router.get("/", summary="List Organization Access Tokens")
async def list_tokens(
    subject: TokensRead,
    session: DbSession,
    pagination: PaginationQuery,
    sorting: Annotated[list[OrganizationAccessTokenSortProperty], Query()] = [  # noqa: B006
        OrganizationAccessTokenSortProperty.created_at
    ],
) -> ListResource[OrganizationAccessToken]:
    """List the access tokens of the token's organization (revoked tokens are omitted)."""
    rows, total = await service.list_tokens(
        session, subject.organization_id, pagination, [str(s) for s in sorting]
    )
    items = [OrganizationAccessToken.model_validate(row) for row in rows]
    return ListResource.build(items, total, pagination)


@router.post("/", status_code=status.HTTP_201_CREATED, summary="Create Organization Access Token")
async def create_token(
    body: OrganizationAccessTokenCreate,
    subject: TokensWrite,
    session: DbSession,
    request: Request,
) -> OrganizationAccessTokenCreateResponse:
    """Create a token. The secret `token` is in this response only; Kassa keeps just a hash."""
    organization_id = service.organization_for(subject, body.organization_id)
    service.ensure_can_grant(subject, body.scopes)
    row, token = await service.create_token(
        session,
        organization_id,
        comment=body.comment,
        scopes=body.scopes,
        expires_in=body.expires_in,
        secret_key=request.app.state.secret_key,
    )
    return OrganizationAccessTokenCreateResponse(
        organization_access_token=OrganizationAccessToken.model_validate(row), token=token
    )


@router.patch("/{id}", summary="Update Organization Access Token")
async def update_token(
    id: uuid.UUID, body: OrganizationAccessTokenUpdate, subject: TokensWrite, session: DbSession
) -> OrganizationAccessToken:
    """Change a token's comment or scopes."""
    row = await service.get_token(session, subject.organization_id, id)
    if body.scopes is not None:
        service.ensure_can_grant(subject, body.scopes)
    row = await service.update_token(session, row, comment=body.comment, scopes=body.scopes)
    return OrganizationAccessToken.model_validate(row)


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke Token")
async def revoke_token(id: uuid.UUID, subject: TokensWrite, session: DbSession) -> None:
    """Revoke a token: it stops working at once."""
    row = await service.get_token(session, subject.organization_id, id)
    await service.revoke_token(session, row)
