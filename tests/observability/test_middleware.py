import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI, Request
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import Message, Receive, Scope, Send
from structlog.testing import capture_logs

from kassa.observability.metrics import metrics_endpoint
from kassa.observability.middleware import RequestContextMiddleware

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


class Boom(Exception):
    pass


def build_app() -> FastAPI:
    app = FastAPI()
    products = APIRouter()

    @app.get("/items/{id}")
    async def item(id: int) -> dict[str, int]:
        return {"id": id}

    @app.get("/request-id")
    async def request_id(request: Request) -> dict[str, str]:
        return {"request_id": request.state.request_id}

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(0.02)
        return {}

    @app.get("/in-progress")
    async def in_progress() -> dict[str, float | None]:
        return {"value": in_progress_value()}

    @app.get("/boom")
    async def boom() -> None:
        raise Boom("kaput")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @products.get("/{product_id}")
    async def product(product_id: str) -> dict[str, str]:
        return {"id": product_id}

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app.include_router(products, prefix="/v1/products")
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.mount("/legacy", Starlette(routes=[Route("/hello/{name}", hello)]))
    app.add_middleware(RequestContextMiddleware)
    return app


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return build_app()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa") as client:
        yield client


def requests_total(route: str, status: int, method: str = "GET") -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("kassa_http_requests_total", labels) or 0.0


def duration(suffix: str, route: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(
        f"kassa_http_request_duration_seconds{suffix}", {"method": "GET", "route": route, **labels}
    )
    return value or 0.0


def in_progress_value() -> float | None:
    return REGISTRY.get_sample_value("kassa_http_requests_in_progress", {"method": "GET"})


async def test_request_id_is_generated_and_returned(client: httpx.AsyncClient) -> None:
    response = await client.get("/request-id")

    request_id = response.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(request_id)
    assert response.json() == {"request_id": request_id}
    assert (await client.get("/request-id")).headers["x-request-id"] != request_id


@pytest.mark.parametrize("given", ["abc", "req-2024.01_x", "a" * 128])
async def test_sane_request_id_is_echoed(client: httpx.AsyncClient, given: str) -> None:
    response = await client.get("/request-id", headers={"X-Request-ID": given})

    assert response.headers["x-request-id"] == given
    assert response.json() == {"request_id": given}


@pytest.mark.parametrize(
    "given",
    [b"", b"a" * 129, b"b" * 500, b"has space", b"semi;colon", b"<script>", b"new\nline", b"\xff"],
)
async def test_insane_request_id_is_replaced(client: httpx.AsyncClient, given: bytes) -> None:
    response = await client.get("/request-id", headers={b"X-Request-ID": given})

    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])
    assert response.json() == {"request_id": response.headers["x-request-id"]}


async def test_route_label_is_the_template(client: httpx.AsyncClient) -> None:
    before = requests_total("/items/{id}", 200)

    await client.get("/items/41")
    await client.get("/items/42")

    assert requests_total("/items/{id}", 200) == before + 2
    assert (
        REGISTRY.get_sample_value(
            "kassa_http_requests_total", {"method": "GET", "route": "/items/41", "status": "200"}
        )
        is None
    )


async def test_route_label_keeps_include_router_prefix(client: httpx.AsyncClient) -> None:
    before = requests_total("/v1/products/{product_id}", 200)

    await client.get("/v1/products/prod_1")

    assert requests_total("/v1/products/{product_id}", 200) == before + 1


async def test_route_label_inside_mounted_app(client: httpx.AsyncClient) -> None:
    before_hit = requests_total("/legacy/hello/{name}", 200)
    before_miss = requests_total("/legacy/{path}", 404)

    assert (await client.get("/legacy/hello/ada")).status_code == 200
    assert (await client.get("/legacy/nothing/here")).status_code == 404

    assert requests_total("/legacy/hello/{name}", 200) == before_hit + 1
    assert requests_total("/legacy/{path}", 404) == before_miss + 1


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient) -> None:
    before = requests_total("unmatched", 404)

    assert (await client.get("/no/such/thing")).status_code == 404
    assert (await client.get("/another/miss")).status_code == 404

    assert requests_total("unmatched", 404) == before + 2


async def test_status_label_for_client_errors(client: httpx.AsyncClient) -> None:
    before_405 = requests_total("/items/{id}", 405, method="POST")
    before_422 = requests_total("/items/{id}", 422)

    assert (await client.post("/items/1")).status_code == 405
    assert (await client.get("/items/not-a-number")).status_code == 422

    assert requests_total("/items/{id}", 405, method="POST") == before_405 + 1
    assert requests_total("/items/{id}", 422) == before_422 + 1


async def test_unusual_methods_share_one_label(client: httpx.AsyncClient) -> None:
    before = requests_total("/items/{id}", 405, method="OTHER")

    await client.request("BREW", "/items/1")

    assert requests_total("/items/{id}", 405, method="OTHER") == before + 1


async def test_exception_counts_as_500_and_propagates(client: httpx.AsyncClient) -> None:
    before = requests_total("/boom", 500)

    with pytest.raises(Boom):
        await client.get("/boom")

    assert requests_total("/boom", 500) == before + 1


async def test_exception_is_answered_500_by_the_server(app: FastAPI) -> None:
    before = requests_total("/boom", 500)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa") as client:
        response = await client.get("/boom")

    assert response.status_code == 500
    assert requests_total("/boom", 500) == before + 1


async def test_outermost_wrapping_puts_request_id_on_500s() -> None:
    app = RequestContextMiddleware(build_app())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa") as client:
        response = await client.get("/boom", headers={"X-Request-ID": "req-500"})

    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-500"


async def test_duration_is_observed(client: httpx.AsyncClient) -> None:
    count = duration("_count", "/slow")
    fast = duration("_bucket", "/slow", le="0.01")
    slowest = duration("_bucket", "/slow", le="+Inf")

    await client.get("/slow")

    assert duration("_count", "/slow") == count + 1
    assert duration("_sum", "/slow") >= 0.02
    assert duration("_bucket", "/slow", le="0.01") == fast
    assert duration("_bucket", "/slow", le="+Inf") == slowest + 1


async def test_in_progress_gauge_counts_the_running_request(client: httpx.AsyncClient) -> None:
    await client.get("/in-progress")  # so that the series exists
    before = in_progress_value()

    response = await client.get("/in-progress")

    assert before is not None
    assert response.json() == {"value": before + 1}
    assert in_progress_value() == before


async def test_metrics_endpoint_shows_the_series(client: httpx.AsyncClient) -> None:
    await client.get("/items/7")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert 'kassa_http_requests_total{method="GET",route="/items/{id}",status="200"}' in body
    assert 'kassa_http_request_duration_seconds_bucket{le="0.005",method="GET"' in body
    assert 'kassa_http_requests_in_progress{method="GET"}' in body


async def test_probes_and_scrapes_are_counted_but_logged_at_debug(
    client: httpx.AsyncClient,
) -> None:
    before_metrics = requests_total("/metrics", 200)
    before_health = requests_total("/healthz", 200)

    with capture_logs() as logs:
        await client.get("/metrics")
        await client.get("/healthz")
        await client.get("/items/3")

    assert requests_total("/metrics", 200) == before_metrics + 1
    assert requests_total("/healthz", 200) == before_health + 1
    assert [(e["route"], e["log_level"]) for e in logs if e["event"] == "request"] == [
        ("/metrics", "debug"),
        ("/healthz", "debug"),
        ("/items/{id}", "info"),
    ]


async def test_access_log_line(client: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        await client.get("/items/5")

    [entry] = [e for e in logs if e["event"] == "request"]
    assert entry["log_level"] == "info"
    assert entry["route"] == "/items/{id}"
    assert entry["status"] == 200
    assert isinstance(entry["duration_ms"], float)


async def test_exception_is_logged_with_exc_info(client: httpx.AsyncClient) -> None:
    with capture_logs() as logs, pytest.raises(Boom):
        await client.get("/boom")

    [entry] = [e for e in logs if e["event"] == "request"]
    assert entry["log_level"] == "error"
    assert entry["status"] == 500
    assert isinstance(entry["exc_info"], Boom)


async def test_log_context_is_bound_during_the_request_only(client: httpx.AsyncClient) -> None:
    app = FastAPI()

    @app.get("/context")
    async def context() -> dict[str, object]:
        return structlog.contextvars.get_contextvars()

    app.add_middleware(RequestContextMiddleware)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa") as client:
        response = await client.get("/context?x=1", headers={"X-Request-ID": "req-ctx"})

    assert response.json() == {"request_id": "req-ctx", "method": "GET", "path": "/context"}
    assert structlog.contextvars.get_contextvars() == {}


async def test_response_header_replaces_one_set_by_the_app() -> None:
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x", headers={"X-Request-ID": "from-app"})

    app = RequestContextMiddleware(Starlette(routes=[Route("/", endpoint)]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa") as client:
        response = await client.get("/", headers={"X-Request-ID": "from-client"})

    assert response.headers.get_list("x-request-id") == ["from-client"]


async def test_other_scopes_pass_straight_through() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "lifespan.startup.complete"})

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await RequestContextMiddleware(app)(scope, receive, send)

    assert seen == [{"type": "lifespan", "asgi": {"version": "3.0"}}]
    assert sent == [{"type": "lifespan.startup.complete"}]


async def test_route_label_in_a_plain_starlette_app_with_mount() -> None:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi")

    app = RequestContextMiddleware(
        Starlette(routes=[Mount("/api", routes=[Route("/hello/{who}", hello)])])
    )
    before = requests_total("/api/hello/{who}", 200)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa") as client:
        await client.get("/api/hello/bob")

    assert requests_total("/api/hello/{who}", 200) == before + 1
