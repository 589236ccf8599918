"""Enqueue jobs inside the caller's transaction.

The job row is inserted on the session's own asyncpg connection, inside its open transaction:
it becomes visible when that transaction commits and vanishes if it rolls back, so a job
exists if and only if its cause committed. Nothing here commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import cast

from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence.queries import Queries
from pgqueuer.domain.types import JobId
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kassa.jobs import metrics, repository, schema
from kassa.jobs.registry import BatchFunction, JobDefinition, JobFunction, P, definition_of
from kassa.kit import sql

JobID = JobId

_QBQ = schema.queue_builder()
_PENDING_KEY = "kassa.jobs.enqueued"


async def enqueue(
    session: AsyncSession,
    handler: JobFunction[P] | BatchFunction[P],
    payload: P,
    *,
    execute_after: timedelta | None = None,
    dedupe_key: str | None = None,
    priority: int = 0,
) -> JobID:
    """Enqueue ``handler(payload)`` in the session's transaction; return the job's id.

    A ``batch_job`` handler is enqueued the same way, one payload (one job) at a time.

    The payload is validated against the handler's model first (``ValidationError``, nothing
    inserted). With ``dedupe_key``, at most one job with that key is queued or running:
    enqueueing another returns the id of the one already there. Higher ``priority`` runs first.
    """
    (job_id,) = await enqueue_many(
        session,
        handler,
        [payload],
        execute_after=execute_after,
        dedupe_keys=None if dedupe_key is None else [dedupe_key],
        priority=priority,
    )
    return job_id


async def enqueue_many(
    session: AsyncSession,
    handler: JobFunction[P] | BatchFunction[P],
    payloads: Sequence[P],
    *,
    execute_after: timedelta | Sequence[timedelta | None] | None = None,
    dedupe_keys: Sequence[str | None] | None = None,
    priority: int = 0,
) -> list[JobID]:
    """Enqueue one job per payload in a single statement; ids in the order of ``payloads``.

    ``execute_after`` is one delay for all, or one per payload.
    """
    return await enqueue_definition(
        session,
        definition_of(handler),
        payloads,
        execute_after=execute_after,
        dedupe_keys=dedupe_keys,
        priority=priority,
    )


async def enqueue_definition(
    session: AsyncSession,
    definition: JobDefinition,
    payloads: Sequence[object],
    *,
    execute_after: timedelta | Sequence[timedelta | None] | None = None,
    dedupe_keys: Sequence[str | None] | None = None,
    priority: int = 0,
) -> list[JobID]:
    bodies: list[bytes | None] = [definition.encode(payload) for payload in payloads]
    keys = list(dedupe_keys) if dedupe_keys is not None else [None] * len(bodies)
    if len(keys) != len(bodies):
        raise ValueError("dedupe_keys must have one entry per payload")
    afters = _delays(execute_after, len(bodies))
    if not bodies:
        return []
    connection = await sql.connection(session)
    queries = Queries(AsyncpgDriver(connection), qbe=schema.QBE, qbq=_QBQ, qbs=schema.QBS)
    ids: list[JobID | None] = [None] * len(bodies)
    todo = list(range(len(bodies)))
    # A duplicate key is resolved to the job holding it; if that job finished meanwhile, the
    # insert is tried again. Three rounds cover any realistic race.
    for _ in range(3):
        inserted = await queries.enqueue(
            [definition.name] * len(todo),
            [bodies[i] for i in todo],
            [priority] * len(todo),
            [afters[i] for i in todo],
            [keys[i] for i in todo],
            on_conflict="skip",
        )
        for i, job_id in zip(todo, inserted, strict=True):
            ids[i] = job_id
        _count_on_commit(session, definition.name, sum(1 for j in inserted if j is not None))
        todo = [i for i in todo if ids[i] is None]
        if not todo:
            return [JobID(j) for j in ids if j is not None]
        holders = await repository.active_jobs_by_dedupe_key(
            session, [k for i in todo if (k := keys[i]) is not None]
        )
        for i in todo:
            held = holders.get(cast(str, keys[i]))
            ids[i] = None if held is None else JobID(held)
        todo = [i for i in todo if ids[i] is None]
        if not todo:
            return [JobID(j) for j in ids if j is not None]
    raise RuntimeError(f"could not enqueue {definition.name}: dedupe keys kept conflicting")


def enqueue_with(
    session: AsyncSession,
    writes: sql.Writes,
    handler: JobFunction[P] | BatchFunction[P],
    payloads: Sequence[P],
    *,
    execute_after: timedelta | Sequence[timedelta | None] | None = None,
    priority: int = 0,
) -> None:
    """``enqueue_many`` in the statement ``writes`` sends (pgqueuer's own insert, as its last
    part), so the jobs commit with them and cost no round trip of their own. Jobs enqueued
    with the same ``writes`` share that one insert.

    No dedupe keys: resolving a conflict on one needs statements of its own (``enqueue``).
    """
    definition = definition_of(handler)
    bodies = [definition.encode(payload) for payload in payloads]
    afters = _delays(execute_after, len(bodies))
    columns = next((a for statement, a in writes.statements if statement is _ENQUEUE), None)
    if columns is None:
        columns = ([], [], [], [], [], [])  # pgqueuer's arrays, one element per job
        writes.add(_ENQUEUE, *columns)
    for body, after in zip(bodies, afters, strict=True):
        job = (priority, definition.name, body, after or timedelta(0), None, "null")
        for column, value in zip(columns, job, strict=True):
            cast(list[object], column).append(value)
    _count_on_commit(session, definition.name, len(bodies))


def _delays(
    execute_after: timedelta | Sequence[timedelta | None] | None, count: int
) -> list[timedelta | None]:
    if execute_after is None or isinstance(execute_after, timedelta):
        return [execute_after] * count
    if len(execute_after) != count:
        raise ValueError("execute_after must be one delay or one per payload")
    return list(execute_after)


_ENQUEUE = _QBQ.build_enqueue_query("raise")  # no dedupe key, so nothing to conflict on


def _count_on_commit(session: AsyncSession, entrypoint: str, count: int) -> None:
    """Count enqueued jobs in the metrics only once their transaction has committed."""
    pending: Counter[str] = session.sync_session.info.setdefault(_PENDING_KEY, Counter())
    pending[entrypoint] += count


@event.listens_for(Session, "after_commit")
def _publish(sync_session: Session) -> None:
    pending: Counter[str] | None = sync_session.info.get(_PENDING_KEY)
    if pending:
        for entrypoint, count in pending.items():
            metrics.ENQUEUED.labels(entrypoint).inc(count)
        pending.clear()


@event.listens_for(Session, "after_rollback")
def _forget(sync_session: Session) -> None:
    pending: Counter[str] | None = sync_session.info.get(_PENDING_KEY)
    if pending:
        pending.clear()
