"""Shared plumbing for the SDK driver scripts.

The drivers run inside the SDK virtual environments (never in Kassa's own), so
this module may only use the standard library and `httpx`, which both SDK
generations depend on. A driver prints one JSON summary on stdout and exits 0,
or prints what it expected and what it got on stderr and exits 1.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.metadata
import json
import os
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import httpx

T = TypeVar("T")
_BODY_LIMIT = 4000


class CheckFailed(Exception):
    """A conformance expectation did not hold."""


@dataclass(frozen=True)
class Exchange:
    method: str
    url: str
    status: int
    request_body: str
    response_body: str

    def render(self) -> str:
        return (
            f"  {self.method} {self.url} -> {self.status}\n"
            f"    request body:  {_clip(self.request_body)}\n"
            f"    response body: {_clip(self.response_body)}"
        )


@dataclass
class Driver:
    """Runs named steps, counts checks and keeps the last HTTP exchanges."""

    generation: str
    base_url: str = field(default_factory=lambda: _require_env("KASSA_URL"))
    token: str = field(default_factory=lambda: _require_env("KASSA_TOKEN"))
    organization_id: str | None = field(
        default_factory=lambda: os.environ.get("KASSA_ORGANIZATION_ID") or None
    )
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    checks: int = 0
    steps: list[str] = field(default_factory=list)
    _current: str = "setup"
    _exchanges: collections.deque[Exchange] = field(
        default_factory=lambda: collections.deque(maxlen=4)
    )

    # -- HTTP capture -----------------------------------------------------

    def on_response(self, response: httpx.Response) -> None:
        """httpx response hook: remember the exchange for failure reports."""
        response.read()
        request = response.request
        self._exchanges.append(
            Exchange(
                method=request.method,
                url=str(request.url),
                status=response.status_code,
                request_body=request.content.decode("utf-8", "replace"),
                response_body=response.text,
            )
        )

    # -- steps and checks ---------------------------------------------------

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        self._current = name
        self._exchanges.clear()
        yield
        self.steps.append(name)

    def check(self, condition: bool, message: str) -> None:
        self.checks += 1
        if not condition:
            raise CheckFailed(message)

    def equal(self, actual: object, expected: object, what: str) -> None:
        self.check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")

    def instance(self, value: object, cls: type[T], what: str) -> T:
        self.check(
            isinstance(value, cls),
            f"{what}: expected an instance of {cls.__name__}, got {type(value).__name__}",
        )
        assert isinstance(value, cls)
        return value

    def raises(self, error: type[BaseException], call: Callable[[], object], what: str) -> Any:
        """Run `call`, require that it raises `error`, and return the exception."""
        try:
            result = call()
        except error as exc:
            self.checks += 1
            return exc
        raise CheckFailed(
            f"{what}: expected the SDK to raise {error.__module__}.{error.__qualname__}, "
            f"but the call returned {_clip(repr(result))}"
        )

    # -- running ------------------------------------------------------------

    def run(self, scenario: Callable[[Driver], dict[str, Any]]) -> NoReturn:
        try:
            details = scenario(self)
        except BaseException as exc:  # report anything, including SDK errors
            self._fail(exc)
        summary = {
            "ok": True,
            "generation": self.generation,
            "sdk": f"polar-sdk {importlib.metadata.version('polar-sdk')}",
            "base_url": self.base_url,
            "checks": self.checks,
            "steps": self.steps,
            **details,
        }
        print(json.dumps(summary, indent=2, sort_keys=True, default=str))
        sys.exit(0)

    def _fail(self, exc: BaseException) -> NoReturn:
        sdk = importlib.metadata.version("polar-sdk")
        lines = [
            f"FAIL [polar-sdk {sdk}, generation {self.generation}] step '{self._current}'",
            f"  {type(exc).__name__}: {exc}",
        ]
        lines.extend(f"  caused by {cause}" for cause in _root_causes(exc))
        if self._exchanges:
            lines.append("last HTTP exchanges of this step (oldest first):")
            lines.extend(exchange.render() for exchange in self._exchanges)
        if not isinstance(exc, CheckFailed):
            lines.append("traceback:")
            lines.append("".join(traceback.format_exception(exc)).rstrip())
        lines.append(f"steps passed before the failure: {self.steps}")
        print("\n".join(lines), file=sys.stderr)
        sys.exit(1)


def _require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        print(f"FAIL: environment variable {name} is required", file=sys.stderr)
        sys.exit(2)
    return value


def _root_causes(exc: BaseException) -> list[str]:
    """The innermost errors behind `exc`, e.g. each field adaptix or pydantic rejected."""
    causes: list[str] = []
    pending: list[BaseException] = [c for c in (exc.__cause__,) if c is not None]
    while pending:
        current = pending.pop(0)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        elif current.__cause__ is not None:
            pending.append(current.__cause__)
        else:
            causes.append(_clip(f"{type(current).__name__}: {current}", 600))
    return causes


def _clip(text: str, limit: int = _BODY_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + "...[truncated]"
