import asyncio
import importlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from kassa.observability import metrics


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[Route("/metrics", metrics.metrics_endpoint)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa") as client:
        yield client


def test_reimporting_reuses_the_registered_collectors() -> None:
    collectors = (
        metrics.HTTP_REQUESTS,
        metrics.HTTP_REQUEST_DURATION,
        metrics.HTTP_REQUESTS_IN_PROGRESS,
    )

    reloaded = importlib.reload(metrics)

    assert collectors == (
        reloaded.HTTP_REQUESTS,
        reloaded.HTTP_REQUEST_DURATION,
        reloaded.HTTP_REQUESTS_IN_PROGRESS,
    )


def test_duration_buckets_span_5ms_to_10s() -> None:
    assert metrics.DURATION_BUCKETS[0] == 0.005
    assert metrics.DURATION_BUCKETS[-1] == 10.0
    assert list(metrics.DURATION_BUCKETS) == sorted(metrics.DURATION_BUCKETS)


async def test_text_format_by_default(client: httpx.AsyncClient) -> None:
    metrics.HTTP_REQUESTS.labels("GET", "/probe/{id}", "204").inc()

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'kassa_http_requests_total{method="GET",route="/probe/{id}",status="204"}' in (
        response.text
    )


async def test_openmetrics_when_asked_for(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_multiprocess_directory_is_aggregated(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker process writes its samples into the shared directory and exits.
    worker = (
        "from kassa.observability.metrics import HTTP_REQUESTS\n"
        "HTTP_REQUESTS.labels('POST', '/v1/checkouts/', '201').inc(3)\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", worker, env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    )
    assert await process.wait() == 0
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics.HTTP_REQUESTS.labels("GET", "/in-this-process", "200").inc()

    response = await client.get("/metrics")

    assert (
        'kassa_http_requests_total{method="POST",route="/v1/checkouts/",status="201"} 3.0'
        in response.text
    )
    # Only the directory is read, not this process's in-memory registry.
    assert "/in-this-process" not in response.text
