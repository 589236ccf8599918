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
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pgqueuer.adapters.persistence.queries import Queries
from pgqueuer.domain import models, types
from pgqueuer.domain.errors import RetryRequested
from prometheus_client import Counter, Gauge, Histogram
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.jobs import metrics, repository
from kassa.jobs.registry import JobContext, JobDefinition

JobStatus = tuple[models.Job, types.JOB_STATUS, models.TracebackRecord | None]


@dataclass
class KassaQueries(Queries):
    """pgqueuer's queries, minus the batched completion of jobs the runner already settled."""

    settled: set[types.JobId] = field(default_factory=set)

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


class JobRunner:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], concurrency: int) -> None:
        self._sessionmaker = sessionmaker
        # pgqueuer may hold a few more picked jobs than this (its batch); they wait here.
        self._slots = asyncio.Semaphore(concurrency)
        self._instruments: dict[str, _Instruments] = {}

    async def run(
        self, definition: JobDefinition, job: models.Job, queries: KassaQueries, owner: uuid.UUID
    ) -> None:
        instruments = self._instruments.get(definition.name)
        if instruments is None:
            instruments = self._instruments[definition.name] = _Instruments.of(definition.name)
        async with self._slots:
            due = max(job.created, job.execute_after)
            instruments.latency.observe(max((datetime.now(UTC) - due).total_seconds(), 0.0))
            instruments.started.inc()
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
            self._failed(definition, context, error, instruments)
        finally:
            if (session := context.opened_session) is not None:
                with contextlib.suppress(Exception):
                    await session.close()
        instruments.succeeded.inc()

    def _failed(
        self,
        definition: JobDefinition,
        context: JobContext,
        error: Exception,
        instruments: _Instruments,
    ) -> None:
        reason = f"{type(error).__name__}: {error}"
        if context.is_last_attempt:
            instruments.failed_final.inc()
            context.logger.error("job_failed", final=True, error=reason)
            raise error
        delay = definition.backoff.delay(context.attempt)
        instruments.failed_retried.inc()
        instruments.retried.inc()
        context.logger.warning(
            "job_failed", final=False, error=reason, retry_in=delay.total_seconds()
        )
        raise RetryRequested(delay=delay, reason=reason) from error
