"""Logging, request context and metrics shared by the API and the workers."""

from kassa.observability.logging import configure_logging, get_logger
from kassa.observability.metrics import (
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    HTTP_REQUESTS_IN_PROGRESS,
    metrics_endpoint,
)
from kassa.observability.middleware import RequestContextMiddleware

__all__ = [
    "HTTP_REQUESTS",
    "HTTP_REQUESTS_IN_PROGRESS",
    "HTTP_REQUEST_DURATION",
    "RequestContextMiddleware",
    "configure_logging",
    "get_logger",
    "metrics_endpoint",
]
