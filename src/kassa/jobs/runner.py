"""One job attempt: its transaction, its retry, its metrics.

Attempts and retries use pgqueuer's own facilities (1.6). The queue row carries ``attempts``
(0 when enqueued); a handler that raises makes the runner raise ``RetryRequested(delay)``, and
pgqueuer's ``retry_job`` puts the same row back to ``queued`` with ``attempts + 1`` and
``execute_after = now() + delay`` in one statement that also logs the error, so the count
survives any crash: it lives in the row, never in a worker. The job id stays the same across
attempts. After ``max_attempts`` the runner re-raises instead; the entrypoint is registered
with ``on_failure="hold"``, so pgqueuer keeps the row with status ``failed`` (payload,
entrypoint, attempts, timestamps) and logs the traceback in ``pgqueuer_log``. ``kassa jobs
retry`` puts it back with pgqueuer's ``requeue_jobs`` (attempts reset to 0).

Success is where Kassa goes further than pgqueuer. pgqueuer deletes a finished job later, in a
batch, on its own connection: a worker dying between the handler's commit and that batch would
run the job again. So when the handler used ``ctx.session``, the runner deletes the row itself
in that same transaction, guarded on this worker still owning it; handler writes and "done"
commit together or not at all. If the row is no longer ours (a heartbeat lapsed and another
worker took the job over), the handler's writes roll back and the other run wins.
``KassaQueries`` then keeps pgqueuer from touching the row. A handler that never used the
session has no writes to protect and is completed by pgqueuer's batch.

Batch jobs (``registry.batch_job``) keep every one of these rules, per job. pgqueuer still
dispatches, heartbeats, retries and holds failed each job on its own; their dispatches wait in
a ``batching.Batcher``, which runs each group as one handler call in one transaction. Success
deletes all of the batch's rows in that transaction with one guarded statement; if any row is
no longer ours, the whole transaction rolls back, the lost jobs are left to their new owner and
the others run again at once. A handler that raises sends each job down the single-job failure
path, with its own attempt count and backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from pgqueuer.adapters.persistence.queries import Queries
from pgqueuer.domain import models, types
from pgqueuer.domain.errors import RetryRequested
from pgqueuer.ports.repository import EntrypointExecutionParameter
from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.jobs import metrics, repository
from kassa.jobs.batching import Batcher
from kassa.jobs.registry import BatchContext, JobContext, JobDefinition

log = structlog.get_logger("kassa.jobs")

JobStatus = tuple[models.Job, types.JOB_STATUS, models.TracebackRecord | None]

# pgqueuer's three wake-up probes (each bounded by its partial indexes) as one statement.
_PROBE = """
SELECT
    (SELECT count(*) FROM (
        SELECT 1 FROM {table}
        WHERE entrypoint = ANY($1) AND status = 'queued' AND execute_after <= now() LIMIT 1
    ) due) AS eligible,
    (SELECT execute_after - now() FROM {table}
     WHERE status = 'queued' AND execute_after > now() AND entrypoint = ANY($1)
     ORDER BY execute_after LIMIT 1) AS eta,
    (SELECT count(*) FROM (
        SELECT 1 FROM {table} WHERE entrypoint = ANY($1) AND status = 'queued' LIMIT 1
    ) any_queued) AS queued
"""


@dataclass
class KassaQueries(Queries):
    """pgqueuer's queries, minus the batched completion of jobs the runner already settled,
    with the probes a worker makes before it waits in one round trip, and without the empty
    dequeue that follows a short one.

    Before each wait pgqueuer asks whether a job is due (``eligible_queued_work``), if none
    when the next deferred one is (``next_deferred_eta``), and if none whether any job is
    queued at all (``queued_work``): up to three statements per wake-up, about one per sale.
    The first call answers all three from one snapshot and keeps the other two answers for
    the calls that follow it (consumed by them, so never reused).

    pgqueuer dequeues until a dequeue comes back empty. One that returned fewer jobs than it
    asked for found every job it could take, so the next is answered empty without asking:
    a job enqueued since is seen by the probe that follows (pgqueuer asks it for this race),
    which makes the worker dequeue again at once.
    """

    settled: set[types.JobId] = field(default_factory=set)
    _probed: tuple[timedelta | None, int] | None = field(default=None, init=False)
    _drained: bool = field(default=False, init=False)

    @functools.cached_property
    def _probe(self) -> str:
        return _PROBE.format(table=self.qbq.qualified.queue_table)

    async def dequeue(
        self,
        batch_size: int,
        entrypoints: dict[types.QueueEntrypoint, EntrypointExecutionParameter],
        queue_manager_id: types.QueueManagerId,
        global_concurrency_limit: int | None,
        heartbeat_timeout: timedelta,
    ) -> list[models.Job]:
        if self._drained:
            self._drained = False
            return []
        jobs = await super().dequeue(
            batch_size, entrypoints, queue_manager_id, global_concurrency_limit, heartbeat_timeout
        )
        self._drained = 0 < len(jobs) < batch_size
        return jobs

    async def eligible_queued_work(self, entrypoints: list[types.QueueEntrypoint]) -> int:
        rows = await self.driver.fetch(self._probe, entrypoints)
        row = rows[0]
        eligible, eta, queued = row["eligible"], row["eta"], row["queued"]
        assert isinstance(eligible, int) and isinstance(queued, int)
        assert eta is None or isinstance(eta, timedelta)
        self._probed = None if eligible else (eta, queued)
        return eligible

    async def next_deferred_eta(self, entrypoints: list[types.QueueEntrypoint]) -> timedelta | None:
        if self._probed is None:
            return await super().next_deferred_eta(entrypoints)
        eta, _ = self._probed
        if eta is not None:  # pgqueuer asks no further
            self._probed = None
        return eta

    async def queued_work(self, entrypoints: list[types.QueueEntrypoint]) -> int:
        if self._probed is None:
            return await super().queued_work(entrypoints)
        _, queued = self._probed
        self._probed = None
        return queued

    async def log_jobs(self, job_status: list[JobStatus]) -> None:
        settled = {job.id for job, _, _ in job_status if job.id in self.settled}
        remaining = [item for item in job_status if item[0].id not in settled]
        if remaining:
            await super().log_jobs(remaining)
        # Only now: when the flush fails, pgqueuer retries the whole batch, settled ones too.
        self.settled -= settled


@dataclass(frozen=True)
class _Instruments:
    """One entrypoint's metric children, looked up once rather than per job."""

    started: Counter
    succeeded: Counter
    failed_final: Counter
    failed_retried: Counter
    retried: Counter
    running: Gauge
    latency: Histogram
    duration: Histogram

    @classmethod
    def of(cls, entrypoint: str) -> _Instruments:
        return cls(
            metrics.STARTED.labels(entrypoint),
            metrics.SUCCEEDED.labels(entrypoint),
            metrics.FAILED.labels(entrypoint, "true"),
            metrics.FAILED.labels(entrypoint, "false"),
            metrics.RETRIED.labels(entrypoint),
            metrics.RUNNING.labels(entrypoint),
            metrics.QUEUE_LATENCY.labels(entrypoint),
            metrics.DURATION.labels(entrypoint),
        )


@dataclass(frozen=True, slots=True)
class _Picked:
    """A batch job handed over by pgqueuer, its payload decoded."""

    job: models.Job
    payload: BaseModel

    @property
    def attempt(self) -> int:
        return self.job.attempts + 1


class JobRunner:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], concurrency: int) -> None:
        self._sessionmaker = sessionmaker
        # pgqueuer may hold a few more picked jobs than this (its batch); they wait here. A
        # batch takes one slot, like a job: each holds one connection at a time.
        self._slots = asyncio.Semaphore(concurrency)
        self._instruments: dict[str, _Instruments] = {}
        self._batchers: dict[tuple[str, uuid.UUID], Batcher[_Picked]] = {}

    async def run(
        self, definition: JobDefinition, job: models.Job, queries: KassaQueries, owner: uuid.UUID
    ) -> None:
        instruments = self._instruments.get(definition.name)
        if instruments is None:
            instruments = self._instruments[definition.name] = _Instruments.of(definition.name)
        if definition.batch is not None:
            await self._submit(definition, job, queries, owner, instruments)
            return
        async with self._slots:
            _observe_start(job, instruments)
            instruments.running.inc()
            started = time.perf_counter()
            try:
                await self._attempt(definition, job, queries, owner, instruments)
            finally:
                instruments.running.dec()
                instruments.duration.observe(time.perf_counter() - started)

    async def _attempt(
        self,
        definition: JobDefinition,
        job: models.Job,
        queries: KassaQueries,
        owner: uuid.UUID,
        instruments: _Instruments,
    ) -> None:
        context = JobContext(
            job.id,
            job.attempts + 1,
            definition.max_attempts,
            job.created,
            definition.name,
            session_factory=self._sessionmaker,
        )
        try:
            payload = definition.decode(job.payload)
        except ValidationError:
            # Retrying cannot fix a payload; hold the job failed at once.
            instruments.failed_final.inc()
            context.logger.error("job_payload_invalid")
            raise
        try:
            await definition.func(context, payload)
            if (session := context.opened_session) is not None:
                await session.flush()
                if session.in_transaction():
                    if not await repository.complete_job(session, job.id, owner):
                        await session.rollback()
                        queries.settled.add(job.id)
                        context.logger.warning("job_taken_over")
                        return
                    await session.commit()
                    queries.settled.add(job.id)
        except asyncio.CancelledError:
            # Cancelled mid-run (its event loop is going away): pgqueuer would delete the job as
            # "canceled". Leave the row picked instead; it runs again once its heartbeat stops.
            queries.settled.add(job.id)
            raise
        except Exception as error:
            if (session := context.opened_session) is not None:
                # A failed rollback (connection lost) must not turn a retry into a final failure.
                with contextlib.suppress(Exception):
                    await session.rollback()
            failure = _failure(definition, job, context.logger, error, instruments)
            if failure is error:
                raise
            raise failure from error
        finally:
            if (session := context.opened_session) is not None:
                with contextlib.suppress(Exception):
                    await session.close()
        instruments.succeeded.inc()

    async def _submit(
        self,
        definition: JobDefinition,
        job: models.Job,
        queries: KassaQueries,
        owner: uuid.UUID,
        instruments: _Instruments,
    ) -> None:
        """Run a batch job: wait for the batch it joins, then raise what it left for this job."""
        spec = definition.batch
        assert spec is not None
        try:
            payload = definition.decode(job.payload)
        except ValidationError:
            instruments.failed_final.inc()
            _job_logger(definition, job).error("job_payload_invalid")
            raise
        batcher = self._batchers.get((definition.name, owner))
        if batcher is None:
            execute = functools.partial(self._run_batch, definition, queries, owner, instruments)
            batcher = self._batchers[(definition.name, owner)] = Batcher(
                execute,
                max_size=spec.max_size,
                max_in_flight=spec.max_in_flight,
                linger=spec.linger_seconds,
                gate=lambda: self._slots,
                size=lambda picked: spec.size(picked.payload),
            )
        try:
            await batcher.submit(spec.key(payload), _Picked(job, payload))
        except asyncio.CancelledError:
            # As for a single job: the row stays picked (or its batch, if it still commits,
            # completes it); pgqueuer must not delete it as "canceled".
            queries.settled.add(job.id)
            raise

    async def _run_batch(
        self,
        definition: JobDefinition,
        queries: KassaQueries,
        owner: uuid.UUID,
        instruments: _Instruments,
        picked: list[_Picked],
    ) -> list[BaseException | None]:
        for item in picked:
            _observe_start(item.job, instruments)
        instruments.running.inc(len(picked))
        started = time.perf_counter()
        results: dict[int, BaseException | None] = {}
        try:
            todo = picked
            while todo:
                todo = await self._attempt_batch(
                    definition, todo, queries, owner, instruments, results
                )
        finally:
            instruments.running.dec(len(picked))
            elapsed = time.perf_counter() - started
            for _ in picked:
                instruments.duration.observe(elapsed)
        return [results[item.job.id] for item in picked]

    async def _attempt_batch(
        self,
        definition: JobDefinition,
        picked: Sequence[_Picked],
        queries: KassaQueries,
        owner: uuid.UUID,
        instruments: _Instruments,
        results: dict[int, BaseException | None],
    ) -> list[_Picked]:
        """One handler call and transaction; fills ``results``, returns the jobs to run again."""
        ids = [item.job.id for item in picked]
        context = BatchContext(
            tuple(ids),
            tuple(item.attempt for item in picked),
            definition.max_attempts,
            definition.name,
            session_factory=self._sessionmaker,
        )
        try:
            await definition.func(context, [item.payload for item in picked])
            if (session := context.opened_session) is not None:
                await session.flush()
                if session.in_transaction():
                    completed = await repository.complete_jobs(session, ids, owner)
                    if len(completed) < len(ids):
                        await session.rollback()
                        for item in picked:
                            if item.job.id not in completed:
                                queries.settled.add(item.job.id)
                                results[item.job.id] = None
                                _job_logger(definition, item.job).warning("job_taken_over")
                        return [item for item in picked if item.job.id in completed]
                    await session.commit()
                    queries.settled.update(ids)
        except asyncio.CancelledError:
            raise  # each job's dispatch settles its own row
        except Exception as error:
            if (session := context.opened_session) is not None:
                with contextlib.suppress(Exception):
                    await session.rollback()
            for item in picked:
                logger = _job_logger(definition, item.job)
                failure = _failure(definition, item.job, logger, error, instruments)
                results[item.job.id] = _own_copy(failure, error)
            return []
        finally:
            if (session := context.opened_session) is not None:
                with contextlib.suppress(Exception):
                    await session.close()
        instruments.succeeded.inc(len(ids))
        results.update(dict.fromkeys(ids))
        return []


def _observe_start(job: models.Job, instruments: _Instruments) -> None:
    due = max(job.created, job.execute_after)
    instruments.latency.observe(max((datetime.now(UTC) - due).total_seconds(), 0.0))
    instruments.started.inc()


def _job_logger(
    definition: JobDefinition, job: models.Job
) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = log.bind(
        job_id=job.id, entrypoint=definition.name, attempt=job.attempts + 1
    )
    return logger


def _failure(
    definition: JobDefinition,
    job: models.Job,
    logger: structlog.typing.FilteringBoundLogger,
    error: Exception,
    instruments: _Instruments,
) -> Exception:
    """What a failed attempt raises: ``RetryRequested`` after the backoff, or on the last
    attempt the error itself (the entrypoint holds the job failed)."""
    attempt = job.attempts + 1
    reason = f"{type(error).__name__}: {error}"
    if attempt >= definition.max_attempts:
        instruments.failed_final.inc()
        logger.error("job_failed", final=True, error=reason)
        return error
    delay = definition.backoff.delay(attempt)
    instruments.failed_retried.inc()
    instruments.retried.inc()
    logger.warning("job_failed", final=False, error=reason, retry_in=delay.total_seconds())
    return RetryRequested(delay=delay, reason=reason)


def _own_copy(failure: Exception, error: Exception) -> Exception:
    """``failure`` for one job of a failed batch, caused by ``error``.

    Each job's dispatch raises its own exception object: one shared by all would collect every
    dispatch's frames in its traceback. The handler's traceback stays on ``__cause__``.
    """
    if failure is not error:
        failure.__cause__ = error
        return failure
    try:
        own = copy.copy(error)
    except Exception:
        return error
    own.__cause__ = error
    return own
