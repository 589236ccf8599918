"""Prometheus collectors for the HTTP layer and the ``GET /metrics`` endpoint."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response

_Collector = TypeVar("_Collector", Counter, Gauge, Histogram)

# From a cached read to a slow report; anything above 10 s lands in +Inf.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _collector(
    kind: type[_Collector],
    name: str,
    documentation: str,
    labelnames: Sequence[str],
    **kwargs: Any,
) -> _Collector:
    """Create a collector on the default registry, or return the one already there.

    Re-executing this module (``importlib.reload``, or a second import under
    another name) would otherwise fail with "Duplicated timeseries".
    """
    # prometheus_client has no public lookup by name.
    existing = REGISTRY._names_to_collectors.get(name)
    if isinstance(existing, kind):
        return existing
    return kind(name, documentation, labelnames, **kwargs)


HTTP_REQUESTS = _collector(
    Counter,
    "kassa_http_requests_total",
    "HTTP requests handled, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = _collector(
    Histogram,
    "kassa_http_request_duration_seconds",
    "Time from receiving an HTTP request to sending the last byte of its response.",
    ["method", "route"],
    buckets=DURATION_BUCKETS,
)
HTTP_REQUESTS_IN_PROGRESS = _collector(
    Gauge,
    "kassa_http_requests_in_progress",
    "HTTP requests currently being handled.",
    ["method"],
    multiprocess_mode="livesum",
)


async def metrics_endpoint(request: Request) -> Response:
    """Expose all metrics in the Prometheus text format, or OpenMetrics if asked for.

    With ``PROMETHEUS_MULTIPROC_DIR`` set, the samples of every worker process
    are read from that directory and aggregated.
    """
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), headers={"Content-Type": content_type})
