"""Per-request context: request id, bound log context, access log line and HTTP metrics."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.observability.logging import get_logger
from kassa.observability.metrics import (
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    HTTP_REQUESTS_IN_PROGRESS,
)

REQUEST_ID_HEADER = "x-request-id"
UNMATCHED_ROUTE = "unmatched"

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode()
# Probes and scrapes: counted, but logged only at debug level.
_QUIET_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
# Anything else a client sends as a method is labelled "OTHER", so that
# arbitrary tokens cannot create new time series.
_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)

_access_log = get_logger("kassa.access")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_HEADER_BYTES:
            candidate: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def route_template(scope: Scope, root_path_before_routing: str = "") -> str:
    """The path template of the route that served the request, for use as a label.

    Call after the app has handled ``scope``. Besides Starlette's
    ``scope["route"]`` this copes with what FastAPI (0.137 and later) leaves:
    ``scope["route"]`` lacks the ``include_router()`` prefixes (the prefixed
    template is on FastAPI's per-request route context), and is not set at
    all for plain Starlette routes and mounts added to a FastAPI app. Mount
    prefixes are recovered from the growth of ``root_path`` during routing.
    """
    mount_prefix: str = scope.get("root_path", "").removeprefix(root_path_before_routing)
    route = scope.get("route") or _plain_route_by_endpoint(scope)
    if route is None or isinstance(route, Mount):
        # Inside a mounted app that does its own routing (static files, a
        # sub-application's 404), or nothing matched at all.
        return f"{mount_prefix}/{{path}}" if mount_prefix else UNMATCHED_ROUTE
    template: Any = None
    fastapi_context = scope.get("fastapi", {}).get("effective_route_context")
    if getattr(fastapi_context, "original_route", None) is route:
        template = getattr(fastapi_context, "path_format", None)
    if not isinstance(template, str):
        template = getattr(route, "path_format", None)
    if not isinstance(template, str):
        return UNMATCHED_ROUTE
    return mount_prefix + template


def _plain_route_by_endpoint(scope: Scope) -> BaseRoute | None:
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return None
    for route in getattr(scope.get("app"), "routes", ()):
        if isinstance(route, Route) and route.endpoint is endpoint:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return route
    return None


class RequestContextMiddleware:
    """Give every HTTP request an id, a bound log context, an access log line and metrics.

    Pure ASGI, so it neither buffers streaming responses nor moves the
    request into another task.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        header = (_REQUEST_ID_HEADER_BYTES, request_id.encode("latin-1"))
        status = 500
        finished_at: float | None = None

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, finished_at
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", ()) if h[0] != header[0]]
                message = {**message, "headers": [*headers, header]}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Background tasks run after this; they are not the client's wait.
                finished_at = time.perf_counter()
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(
            request_id=request_id, method=scope["method"], path=path
        )
        in_progress = HTTP_REQUESTS_IN_PROGRESS.labels(method)
        in_progress.inc()
        started_at = time.perf_counter()
        error: Exception | None = None
        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception as exc:
            error = exc
            status = 500
            raise
        finally:
            duration = (time.perf_counter() if finished_at is None else finished_at) - started_at
            in_progress.dec()
            route = route_template(scope, root_path)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_REQUEST_DURATION.labels(method, route).observe(duration)
            fields = {"route": route, "status": status, "duration_ms": round(duration * 1000, 2)}
            if error is not None:
                _access_log.error("request", **fields, exc_info=error)
            elif path in _QUIET_PATHS or route in _QUIET_PATHS:
                _access_log.debug("request", **fields)
            else:
                _access_log.info("request", **fields)
            structlog.contextvars.reset_contextvars(**tokens)
