from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from kassa.auth.scopes import AVAILABLE_SCOPES, Scope
from kassa.kit.schemas import IDSchema, InputSchema, Schema, TimestampedSchema

Comment = Annotated[str, StringConstraints(max_length=256)]


class OrganizationAccessTokenSortProperty(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    comment = "comment"
    comment_desc = "-comment"
    last_used_at = "last_used_at"
    last_used_at_desc = "-last_used_at"
    organization_id = "organization_id"
    organization_id_desc = "-organization_id"


def _available(scopes: list[Scope] | None) -> list[Scope] | None:
    if scopes is None:
        return None
    reserved = sorted(str(s) for s in scopes if s not in AVAILABLE_SCOPES)
    if reserved:
        raise ValueError(f"Scopes not available to access tokens: {', '.join(reserved)}")
    return scopes


class OrganizationAccessToken(IDSchema, TimestampedSchema):
    scopes: list[Scope]
    expires_at: datetime | None
    comment: str
    last_used_at: datetime | None
    organization_id: uuid.UUID


class OrganizationAccessTokenCreate(InputSchema):
    organization_id: uuid.UUID | None = None
    comment: Comment
    expires_in: timedelta | None = Field(
        default=None, description="ISO 8601 duration, e.g. P30D. No expiry when omitted."
    )
    scopes: list[Scope]

    @field_validator("scopes")
    @classmethod
    def _scopes_available(cls, scopes: list[Scope]) -> list[Scope] | None:
        return _available(scopes)

    @field_validator("expires_in")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("expires_in must be a positive duration")
        return value


class OrganizationAccessTokenUpdate(InputSchema):
    comment: Comment | None = None
    scopes: list[Scope] | None = None

    @field_validator("scopes")
    @classmethod
    def _scopes_available(cls, scopes: list[Scope] | None) -> list[Scope] | None:
        return _available(scopes)


class OrganizationAccessTokenCreateResponse(Schema):
    organization_access_token: OrganizationAccessToken
    token: str
