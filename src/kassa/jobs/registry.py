"""Job handlers and periodic tasks, registered by decorating importable async functions.

Callers refer to a job by its function object (``enqueue(session, send_receipt, payload)``),
never by a string: "go to definition" works and a renamed job cannot be enqueued by a stale
name. The queue stores the derived name ``module:qualname``. A ``batch_job`` is enqueued the
same way, one job per payload; the worker hands it jobs that are due together in batches.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from types import SimpleNamespace
from typing import Any, TypeAlias, TypeVar, get_args, get_origin, get_type_hints

import structlog
from croniter import croniter
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.jobs.batching import one_unit

P = TypeVar("P", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Awaitable[None]])


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: the delay after failed attempt ``n`` is uniform in
    ``[0, min(max_seconds, base_seconds * factor ** (n - 1))]`` (or that cap without jitter)."""

    base_seconds: float = 2.0
    factor: float = 3.0
    max_seconds: float = 3600.0
    jitter: bool = True

    def cap(self, attempt: int) -> float:
        return float(min(self.max_seconds, self.base_seconds * self.factor ** (attempt - 1)))

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        cap = self.cap(attempt)
        return timedelta(seconds=(rng or _RNG).uniform(0, cap) if self.jitter else cap)


_log = structlog.get_logger("kassa.jobs")
_RNG = random.Random()  # noqa: S311 -- jitter, not secrets
DEFAULT_BACKOFF = Backoff()


@dataclass
class _Transaction:
    """The handler's own transaction, opened on first use of ``session``: the worker commits it
    only after the handler returns (together with marking its jobs done) and rolls it back if
    the handler raises."""

    session_factory: Callable[[], AsyncSession] | None = field(
        default=None, repr=False, kw_only=True
    )
    _session: AsyncSession | None = field(default=None, init=False, repr=False)

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            if self.session_factory is None:
                raise RuntimeError(f"this {type(self).__name__} has no session_factory")
            self._session = self.session_factory()
        return self._session

    @property
    def opened_session(self) -> AsyncSession | None:
        return self._session


@dataclass
class JobContext(_Transaction):
    """What a handler gets besides its payload; ``session`` is the job's own transaction."""

    job_id: int
    attempt: int  # 1 for the first run
    max_attempts: int
    enqueued_at: datetime
    entrypoint: str
    scheduled_for: datetime | None = None  # periodic tasks: the period this run is for

    @cached_property
    def logger(self) -> structlog.typing.FilteringBoundLogger:
        logger: structlog.typing.FilteringBoundLogger = _log.bind(
            job_id=self.job_id, entrypoint=self.entrypoint, attempt=self.attempt
        )
        return logger

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


@dataclass
class BatchContext(_Transaction):
    """What a batch handler gets besides its payloads: one transaction for the whole batch.

    ``job_ids`` and ``attempts`` are in the order of the payloads; each job counts its own
    attempts (a job retried after a failed batch may run beside jobs on their first).
    """

    job_ids: tuple[int, ...]
    attempts: tuple[int, ...]
    max_attempts: int
    entrypoint: str

    @cached_property
    def logger(self) -> structlog.typing.FilteringBoundLogger:
        logger: structlog.typing.FilteringBoundLogger = _log.bind(
            job_ids=list(self.job_ids), entrypoint=self.entrypoint
        )
        return logger


JobFunction: TypeAlias = Callable[[JobContext, P], Awaitable[None]]
BatchFunction: TypeAlias = Callable[[BatchContext, list[P]], Awaitable[None]]
PeriodicFunction: TypeAlias = Callable[[JobContext], Awaitable[None]]


def _one_batch(payload: object) -> Hashable:
    return None


@dataclass(frozen=True)
class BatchSpec:
    """How a worker groups the jobs of a ``batch_job``.

    Jobs that are due together and share ``key(payload)`` run as one batch of at most
    ``max_size`` units, ``size(payload)`` being a job's (one, unless its payload carries several
    pieces of work); at most ``max_in_flight`` batches of one key run at once, and jobs of that
    key arriving meanwhile wait to form the next one. A batch that is not full waits
    ``linger_seconds`` for more jobs before it runs (none by default: a lone job on an idle
    worker is then a batch of one at once).
    """

    max_size: int = 100
    key: Callable[[Any], Hashable] = _one_batch
    max_in_flight: int = 2
    linger_seconds: float = 0.0
    size: Callable[[Any], int] = one_unit

    def __post_init__(self) -> None:
        if self.max_size < 1 or self.max_in_flight < 1:
            raise ValueError("max_size and max_in_flight must be at least 1")
        if self.linger_seconds < 0:
            raise ValueError("linger_seconds cannot be negative")


@dataclass(frozen=True)
class JobDefinition:
    name: str
    # ``(JobContext, payload)``, or ``(BatchContext, payloads)`` when ``batch`` is set.
    func: Callable[[Any, Any], Awaitable[None]]
    payload_type: type[BaseModel]
    max_attempts: int
    backoff: Backoff
    queue: str
    batch: BatchSpec | None = None

    def encode(self, payload: object) -> bytes:
        """Validate ``payload`` against the handler's model and serialize it, or raise."""
        model = self.payload_type
        if isinstance(payload, model):
            # Round-trip: also catches instances built with ``model_construct``.
            body = payload.model_dump_json(warnings=False).encode()
            model.model_validate_json(body)
            return body
        return model.model_validate(payload).model_dump_json().encode()

    def decode(self, body: bytes | None) -> BaseModel:
        return self.payload_type.model_validate_json(body or b"{}")


@dataclass(frozen=True)
class PeriodicDefinition:
    name: str
    cron: str
    func: PeriodicFunction
    job: JobDefinition = field(repr=False)


_jobs: dict[str, JobDefinition] = {}
_by_function: dict[Callable[..., Any], JobDefinition] = {}
_periodic: dict[str, PeriodicDefinition] = {}


def name_of(func: Callable[..., Any]) -> str:
    """The name a worker knows a handler by, ``module:qualname`` (it must be importable and
    awaitable: a module-level ``async def``)."""
    if "<locals>" in func.__qualname__:
        raise TypeError(f"{func.__qualname__}: jobs must be module-level functions")
    if not inspect.iscoroutinefunction(func):
        raise TypeError(f"{func.__qualname__}: jobs must be `async def` functions")
    return f"{func.__module__}:{func.__qualname__}"


def _annotation(func: Callable[..., Any], parameter: str) -> object:
    """Resolve one parameter's annotation (the others may be imported only for type checking)."""
    holder = SimpleNamespace(__annotations__={parameter: func.__annotations__.get(parameter)})
    return get_type_hints(holder, globalns=func.__globals__).get(parameter)


def _register(definition: JobDefinition) -> None:
    # Re-registering a name replaces it: a module executed twice (reload) defines it again.
    _jobs[definition.name] = definition
    _by_function[definition.func] = definition


def job(
    *, max_attempts: int = 10, backoff: Backoff = DEFAULT_BACKOFF, queue: str = "default"
) -> Callable[[F], F]:
    """Register ``async def handler(ctx: JobContext, payload: Model) -> None`` as a job.

    Handlers MUST be idempotent: a job runs at least once. Its database writes go through
    ``ctx.session`` and commit atomically with marking the job done, so they happen once; but
    a worker may die after an external side effect (an HTTP call, an email) and before that
    commit, and the job then runs again. Give external calls idempotency keys derived from
    the payload. A handler that raises is retried after ``backoff`` until ``max_attempts``
    attempts have failed; the job is then kept in the failed state (``kassa jobs failed``).
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

    def register(func: F) -> F:
        name = name_of(func)
        payload_type = _payload_type(func)
        if payload_type is None:
            raise TypeError(f"{name}: the payload parameter must be annotated with a BaseModel")
        _register(JobDefinition(name, func, payload_type, max_attempts, backoff, queue))
        return func

    return register


def batch_job(
    *,
    max_size: int = 100,
    key: Callable[[Any], Hashable] = _one_batch,
    max_in_flight: int = 2,
    linger_seconds: float = 0.0,
    size: Callable[[Any], int] = one_unit,
    max_attempts: int = 10,
    backoff: Backoff = DEFAULT_BACKOFF,
    queue: str = "default",
) -> Callable[[F], F]:
    """Register ``async def handler(ctx: BatchContext, payloads: list[Model]) -> None``.

    Enqueue it like any job, one payload at a time (``enqueue(session, handler, payload)``):
    each payload is a job row of its own, inserted in its cause's transaction. The worker
    groups jobs that are due together by ``key(payload)`` (see ``BatchSpec``) and runs each
    group in one transaction: the handler's writes and deleting all of the batch's jobs commit
    together. If the handler raises, every job of the batch is retried (or held failed) on its
    own schedule, as if it had raised alone; a job may then run in another batch. The same
    idempotency rules as ``job`` apply, to every payload.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    spec = BatchSpec(
        max_size=max_size,
        key=key,
        max_in_flight=max_in_flight,
        linger_seconds=linger_seconds,
        size=size,
    )

    def register(func: F) -> F:
        name = name_of(func)
        payloads = _payload_type(func, origin=list)
        if payloads is None:
            raise TypeError(
                f"{name}: the payloads parameter must be annotated with list[<a BaseModel>]"
            )
        _register(JobDefinition(name, func, payloads, max_attempts, backoff, queue, spec))
        return func

    return register


def _payload_type(func: Callable[..., Any], origin: type | None = None) -> type[BaseModel] | None:
    """The model of the second parameter's annotation (of ``origin[Model]`` if given)."""
    parameters = list(inspect.signature(func).parameters)
    annotation = _annotation(func, parameters[1]) if len(parameters) == 2 else None
    if origin is not None:
        arguments = get_args(annotation) if get_origin(annotation) is origin else ()
        annotation = arguments[0] if len(arguments) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


class PeriodicRun(BaseModel):
    scheduled_for: datetime


def periodic(
    cron: str,
    *,
    name: str | None = None,
    max_attempts: int = 3,
    backoff: Backoff = DEFAULT_BACKOFF,
    queue: str = "default",
) -> Callable[[F], F]:
    """Register ``async def task(ctx: JobContext) -> None`` to run once per period of ``cron``.

    Five fields as usual; a sixth field counts seconds (``"* * * * * */2"``: every 2 s). Each
    period runs once however many workers are up: it becomes a job, recorded in
    ``job_periodic_runs`` in the transaction that enqueues it. A period that a worker did not
    get to (all workers down) is skipped, not caught up: read ``ctx.scheduled_for`` and work
    from database state. Like any job, the task must be idempotent.
    """
    if not croniter.is_valid(cron):
        raise ValueError(f"Invalid cron expression: {cron!r}")

    def register(func: F) -> F:
        derived = name_of(func)  # also checks that a worker can import and await it
        task_name = name or derived

        async def run(ctx: JobContext, payload: PeriodicRun) -> None:
            ctx.scheduled_for = payload.scheduled_for
            await func(ctx)

        definition = JobDefinition(task_name, run, PeriodicRun, max_attempts, backoff, queue)
        _jobs[task_name] = definition
        _periodic[task_name] = PeriodicDefinition(task_name, cron, func, definition)
        return func

    return register


def definition_of(handler: Callable[..., Any]) -> JobDefinition:
    try:
        return _by_function[handler]
    except (KeyError, TypeError):
        raise LookupError(f"{handler!r} is not a registered job (decorate it with @job)") from None


def job_definitions(queues: set[str] | None = None) -> list[JobDefinition]:
    return [d for d in _jobs.values() if queues is None or d.queue in queues]


def periodic_definitions(queues: set[str] | None = None) -> list[PeriodicDefinition]:
    return [p for p in _periodic.values() if queues is None or p.job.queue in queues]


_shutdown_hooks: list[Callable[[], Awaitable[None]]] = []


def on_worker_shutdown(hook: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """Run ``hook`` when a worker stops (e.g. to close a shared HTTP client)."""
    _shutdown_hooks.append(hook)
    return hook


async def run_shutdown_hooks() -> None:
    for hook in _shutdown_hooks:
        await hook()
