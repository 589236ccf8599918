import json
import logging
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, Request

from kassa.observability.logging import configure_logging, get_logger
from kassa.observability.middleware import RequestContextMiddleware

JsonLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo configure_logging, so that neither other tests nor pytest see its handler."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    uvicorn = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    saved_uvicorn = [(lg.handlers[:], lg.propagate, lg.level) for lg in uvicorn]
    saved_structlog = structlog.get_config()
    yield
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    for lg, (handlers, propagate, level) in zip(uvicorn, saved_uvicorn, strict=True):
        lg.handlers[:] = handlers
        lg.propagate = propagate
        lg.setLevel(level)
    logging.captureWarnings(False)
    structlog.configure(**saved_structlog)


@pytest.fixture
def json_lines(capsys: pytest.CaptureFixture[str]) -> JsonLines:
    """Configure JSON logging onto the captured stderr; return a reader of the lines since."""
    configure_logging(level="DEBUG")

    def read() -> list[dict[str, Any]]:
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines()]

    return read


def test_structlog_event_is_one_json_line(json_lines: JsonLines) -> None:
    get_logger("kassa.test").info("order paid", order_id="ord_1", amount=1000)

    [line] = json_lines()
    assert line["event"] == "order paid"
    assert line["level"] == "info"
    assert line["logger"] == "kassa.test"
    assert line["order_id"] == "ord_1"
    assert line["amount"] == 1000
    timestamp = datetime.fromisoformat(line["timestamp"])
    assert timestamp.utcoffset() == UTC.utcoffset(None)


def test_logger_name_defaults_to_calling_module(json_lines: JsonLines) -> None:
    get_logger().info("hello")

    [line] = json_lines()
    assert line["logger"] == __name__


def test_secret_values_are_masked_at_any_depth(json_lines: JsonLines) -> None:
    get_logger().warning(
        "outgoing call",
        Authorization="Bearer polar_oat_secret1",
        access_token="secret2",
        user_password="secret3",
        cardNumber="4242424242424242",
        webhook_secret=None,
        headers={"X-Api-Token": "secret4", "accept": "application/json"},
        raw_headers=[(b"authorization", b"Basic secret5"), (b"accept", b"*/*")],
        customer_id="cus_1",
    )

    [line] = json_lines()
    assert line["Authorization"] == "***"
    assert line["access_token"] == "***"
    assert line["user_password"] == "***"
    assert line["cardNumber"] == "***"
    assert line["webhook_secret"] == "***"
    assert line["headers"] == {"X-Api-Token": "***", "accept": "application/json"}
    assert line["raw_headers"][0][1] == "***"
    assert line["customer_id"] == "cus_1"
    rendered = json.dumps(line)
    for leaked in ("secret1", "secret2", "secret3", "4242", "secret4", "secret5"):
        assert leaked not in rendered


def test_stdlib_records_share_the_renderer(json_lines: JsonLines) -> None:
    logging.getLogger("sqlalchemy.pool").warning("pool %s overflow", "main")

    [line] = json_lines()
    assert line["event"] == "pool main overflow"
    assert line["level"] == "warning"
    assert line["logger"] == "sqlalchemy.pool"
    assert "timestamp" in line


def test_uvicorn_handlers_are_replaced(capsys: pytest.CaptureFixture[str]) -> None:
    # What uvicorn's own logging config leaves behind.
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.addHandler(logging.StreamHandler())
    uvicorn_error.propagate = False

    configure_logging()
    uvicorn_error.info("Application startup complete.")
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET / HTTP/1.1" 200')

    [line] = [json.loads(s) for s in capsys.readouterr().err.splitlines()]
    assert line["event"] == "Application startup complete."
    assert line["logger"] == "uvicorn.error"


def test_warnings_are_logged(json_lines: JsonLines) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("this API is deprecated", DeprecationWarning, stacklevel=1)

    [line] = json_lines()
    assert line["logger"] == "py.warnings"
    assert "this API is deprecated" in line["event"]


def test_bound_context_reaches_structlog_and_stdlib_lines(json_lines: JsonLines) -> None:
    tokens = structlog.contextvars.bind_contextvars(request_id="req_1")
    try:
        get_logger().info("from structlog")
        logging.getLogger("alembic").info("from stdlib")
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
    get_logger().info("after")

    first, second, after = json_lines()
    assert first["request_id"] == second["request_id"] == "req_1"
    assert "request_id" not in after


def test_exceptions_are_rendered_into_the_line(json_lines: JsonLines) -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        get_logger().exception("failed")

    [line] = json_lines()
    assert line["level"] == "error"
    assert "ZeroDivisionError" in line["exception"]


def test_configuring_twice_installs_one_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = len(logging.getLogger().handlers)
    configure_logging()
    configure_logging()

    assert len(logging.getLogger().handlers) == before + 1
    get_logger().info("once")
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_level_filters_both_sources(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="warning")
    get_logger().info("dropped")
    logging.getLogger("other").info("dropped")
    get_logger().warning("kept")

    lines = [json.loads(s) for s in capsys.readouterr().err.splitlines()]
    assert [line["event"] for line in lines] == ["kept"]


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="VERBOSE"):
        configure_logging(level="VERBOSE")


def test_console_renderer_for_humans(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_logs=False)
    get_logger().info("hello", token="abc123", customer_id="cus_1")

    err = capsys.readouterr().err
    assert "hello" in err
    assert "cus_1" in err
    assert "abc123" not in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)


async def test_request_lines_carry_request_id_and_hide_secrets(json_lines: JsonLines) -> None:
    app = FastAPI()

    @app.post("/charges")
    async def charge(request: Request) -> dict[str, str]:
        get_logger("kassa.charges").info("charging", authorization=request.headers["authorization"])
        return {}

    app.add_middleware(RequestContextMiddleware)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa") as client:
        response = await client.post(
            "/charges",
            headers={"Authorization": "Bearer polar_oat_live", "X-Request-ID": "req-42"},
        )

    assert response.status_code == 200
    charging, access = [line for line in json_lines() if line["logger"].startswith("kassa.")]
    assert charging["event"] == "charging"
    assert charging["request_id"] == "req-42"
    assert charging["authorization"] == "***"
    assert charging["method"] == "POST"
    assert charging["path"] == "/charges"
    assert access["event"] == "request"
    assert access["logger"] == "kassa.access"
    assert access["request_id"] == "req-42"
    assert access["route"] == "/charges"
    assert access["status"] == 200
    assert access["duration_ms"] >= 0
    assert "polar_oat_live" not in json.dumps([charging, access])
