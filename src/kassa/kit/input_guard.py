"""Refuse NUL bytes in the path or query string up front: PostgreSQL text cannot hold them, so
they would otherwise surface as database errors."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from kassa.kit.asgi import send_json


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for part, raw in (
                ("path", scope["path"].encode("utf-8", "surrogateescape")),
                ("query", unquote_to_bytes(scope["query_string"])),
            ):
                if b"\x00" in raw:
                    detail = [{"loc": [part], "msg": "must not contain NUL", "type": "value_error"}]
                    await send_json(send, 422, {"detail": detail})
                    return
        await self.app(scope, receive, send)
