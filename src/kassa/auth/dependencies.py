"""Authentication and authorization dependencies for endpoints.

``Authorize(Scope.products_read, Scope.products_write)`` admits a token holding any of the
scopes; a missing or bad token is 401, a token without the scope is 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kassa.auth.scopes import Scope
from kassa.auth.service import AuthSubject, authenticate
from kassa.kit.db import DbSession
from kassa.kit.errors import NotPermitted, Unauthorized

_bearer = HTTPBearer(auto_error=False, scheme_name="oat")


async def current_subject(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AuthSubject:
    if credentials is None:
        raise Unauthorized()
    subject = await authenticate(session, credentials.credentials, request.app.state.secret_key)
    if subject is None:
        raise Unauthorized()
    request.state.auth_subject = subject
    return subject


class Authorize:
    def __init__(self, *scopes: Scope) -> None:
        self.scopes = frozenset(str(scope) for scope in scopes)

    async def __call__(
        self, subject: Annotated[AuthSubject, Depends(current_subject)]
    ) -> AuthSubject:
        if not subject.has_any(self.scopes):
            raise NotPermitted(
                "Your token lacks the scope for this operation: one of "
                + ", ".join(sorted(self.scopes))
            )
        return subject
