"""The pages' static files (CSS, JS), served from the package at ``/static``."""

from __future__ import annotations

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from kassa.web.templating import STATIC_DIR


class RevalidatedStaticFiles(StaticFiles):
    """Browsers revalidate every file (a cheap 304 by ETag), so an upgrade is seen at once
    even by the script modules a page imports (they cannot carry a version in their URL)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def static_files() -> StaticFiles:
    return RevalidatedStaticFiles(directory=STATIC_DIR)
