"""Structured logging: one JSON object per line on stderr, for structlog and stdlib alike.

structlog hands its event dicts to the stdlib `logging` machinery, and a single
handler on the root logger renders both those and foreign records (uvicorn,
SQLAlchemy, Alembic, warnings) with the same processors.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

MASK = "***"

# Compared against key names lower-cased with "_" and "-" removed, so that
# "card_number", "cardNumber" and "X-Card-Number" all match "cardnumber".
_SECRET_MARKERS = ("authorization", "token", "password", "secret", "cardnumber", "cookie", "apikey")
_MAX_MASK_DEPTH = 8

# uvicorn installs its own handlers on these when it configures logging.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _is_secret_key(key: str | bytes) -> bool:
    if isinstance(key, bytes):
        key = key.decode("latin-1")
    normalized = key.lower().replace("_", "").replace("-", "")
    return any(marker in normalized for marker in _SECRET_MARKERS)


def _mask(value: Any, depth: int) -> Any:
    if depth >= _MAX_MASK_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            k: MASK if isinstance(k, str | bytes) and _is_secret_key(k) else _mask(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        # A (name, value) pair, as in ASGI or httpx header lists.
        if len(value) == 2 and isinstance(value[0], str | bytes) and _is_secret_key(value[0]):
            items = [value[0], MASK]
        else:
            items = [_mask(item, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def mask_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Replace the values of secret-looking keys, at any nesting depth, with ``"***"``."""
    for key, value in event_dict.items():
        if key.startswith("_") or key == "event":
            continue
        if _is_secret_key(key):
            event_dict[key] = MASK
        elif isinstance(value, Mapping | list | tuple):
            event_dict[key] = _mask(value, 0)
    return event_dict


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes each record to whatever ``sys.stderr`` is at that moment.

    Like `logging.lastResort`, so that replacing ``sys.stderr`` (pytest's
    capture does, per test phase) never leaves it writing to a closed stream.
    Being its own class also lets a second `configure_logging` find it.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _level_number(level: str) -> int:
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        raise ValueError(f"unknown log level: {level!r}")
    return number


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    """Route structlog and stdlib logging through one renderer on stderr.

    Safe to call more than once: the handler installed by a previous call is
    replaced, not duplicated.
    """
    root_level = _level_number(level)
    # Masking happens before a record reaches any handler, not only ours.
    common: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        mask_secrets,
    ]
    renderer: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if json_logs
        else [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    )

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *common,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(ignore_frame_names=[__name__]),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Caching would freeze loggers first used before this call (in tests,
        # or at import time) on whatever configuration was current then.
        cache_logger_on_first_use=False,
    )

    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=common,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *renderer,
            ],
        )
    )

    root = logging.getLogger()
    for existing in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(root_level)

    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)
    # RequestContextMiddleware writes the access log, with the request id.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)

    logging.captureWarnings(True)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger backed by the stdlib logger ``name`` (default: the caller's module)."""
    if name is None:
        return structlog.stdlib.get_logger()
    return structlog.stdlib.get_logger(name)
