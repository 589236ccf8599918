"""Jobs used by the tests, imported by the test process and by `kassa worker` processes
(through ``KASSA_JOB_MODULES``). Each records its effect in ``job_test_effects``."""

from __future__ import annotations

import asyncio
import os

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.jobs.feeds import feed
from kassa.jobs.registry import Backoff, BatchContext, JobContext, batch_job, job
from kassa.kit import sql

EFFECTS_DDL = """
CREATE TABLE IF NOT EXISTS job_test_effects (
    id bigserial PRIMARY KEY,
    key text NOT NULL,
    attempt integer NOT NULL,
    pid integer NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS feed_test_rows (
    id bigserial PRIMARY KEY,
    key text NOT NULL,
    poison boolean NOT NULL DEFAULT false,
    batch bigint,
    handed_off_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE OR REPLACE FUNCTION feed_test_notify() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM pg_notify('kassa_test_feed', '');
    RETURN NULL;
END
$body$;
DROP TRIGGER IF EXISTS feed_test_rows_notify ON feed_test_rows;
CREATE TRIGGER feed_test_rows_notify AFTER INSERT ON feed_test_rows
    FOR EACH STATEMENT EXECUTE FUNCTION feed_test_notify();
"""


class Note(BaseModel):
    key: str
    fail_until_attempt: int = 0  # raise on attempts 1..n, after writing the effect
    fail_while_marked: bool = False  # raise while an effect keyed "marker:<key>" exists
    sleep: float = Field(default=0.0, ge=0)


async def record_effect(ctx: JobContext, key: str) -> None:
    await ctx.session.execute(
        text("INSERT INTO job_test_effects (key, attempt, pid) VALUES (:key, :attempt, :pid)"),
        {"key": key, "attempt": ctx.attempt, "pid": os.getpid()},
    )


@job(max_attempts=3, backoff=Backoff(base_seconds=0.2, factor=2.0, jitter=False))
async def record(ctx: JobContext, payload: Note) -> None:
    """Sleep (``payload.sleep``, else ``KASSA_TEST_JOB_SLEEP``), record, maybe fail."""
    await asyncio.sleep(payload.sleep or float(os.environ.get("KASSA_TEST_JOB_SLEEP", "0")))
    await record_effect(ctx, payload.key)
    if ctx.attempt <= payload.fail_until_attempt:
        raise RuntimeError(f"planned failure on attempt {ctx.attempt}")
    if payload.fail_while_marked:
        marker = {"key": f"marker:{payload.key}"}
        marked = await ctx.session.execute(
            text("SELECT count(*) FROM job_test_effects WHERE key = :key"), marker
        )
        if marked.scalar_one():
            raise RuntimeError("marked broken")


class Nothing(BaseModel):
    key: str = ""


@job(max_attempts=1)
async def no_database(ctx: JobContext, payload: Nothing) -> None:
    """Touches no table: completed by pgqueuer's batch, not in a transaction of its own."""


class Takeover(BaseModel):
    key: str
    new_owner: str


@job(max_attempts=1)
async def taken_over_midway(ctx: JobContext, payload: Takeover) -> None:
    """Writes an effect, while 'another worker' (a separate connection) takes the job over."""
    await record_effect(ctx, payload.key)
    bind = ctx.session.bind
    async with bind.connect() as other:  # type: ignore[union-attr]
        await other.execute(
            text("UPDATE pgqueuer SET queue_manager_id = :owner WHERE id = :id"),
            {"owner": payload.new_owner, "id": ctx.job_id},
        )
        await other.commit()


class Item(BaseModel):
    key: str
    group: str = ""
    fail_until_attempt: int = 0  # the whole batch raises while this job is on attempts 1..n
    sleep: float = Field(default=0.0, ge=0)
    take_over_for: str | None = None  # hand this job's row to that owner mid-run


def _group_of(item: Item) -> str:
    return item.group


@batch_job(
    max_size=5,
    key=_group_of,
    max_in_flight=2,
    max_attempts=3,
    backoff=Backoff(base_seconds=0.2, factor=2.0, jitter=False),
)
async def record_items(ctx: BatchContext, payloads: list[Item]) -> None:
    """Record an effect per item and one ``batch:<keys>`` per batch (attempt = its size)."""
    await asyncio.sleep(max(p.sleep for p in payloads))
    for payload, attempt in zip(payloads, ctx.attempts, strict=True):
        await ctx.session.execute(
            text("INSERT INTO job_test_effects (key, attempt, pid) VALUES (:key, :attempt, :pid)"),
            {"key": payload.key, "attempt": attempt, "pid": os.getpid()},
        )
    await ctx.session.execute(
        text("INSERT INTO job_test_effects (key, attempt, pid) VALUES (:key, :size, :pid)"),
        {"key": "batch:" + ",".join(p.key for p in payloads), "size": len(payloads), "pid": 0},
    )
    bind = ctx.session.bind
    for payload, job_id in zip(payloads, ctx.job_ids, strict=True):
        if payload.take_over_for is not None:
            async with bind.connect() as other:  # type: ignore[union-attr]
                await other.execute(
                    text("UPDATE pgqueuer SET queue_manager_id = :owner WHERE id = :id"),
                    {"owner": payload.take_over_for, "id": job_id},
                )
                await other.commit()
    for payload, attempt in zip(payloads, ctx.attempts, strict=True):
        if attempt <= payload.fail_until_attempt:
            raise RuntimeError(f"planned failure of {payload.key} on attempt {attempt}")


FEED_QUEUE = "feed_tests"
FEED_BATCH = 5


async def hand_off_feed_rows(session: AsyncSession, limit: int) -> int:
    """Mark the next rows handed off, each with an effect ``handed:<key>``."""
    rows = await session.execute(
        text(
            "UPDATE feed_test_rows SET handed_off_at = clock_timestamp() WHERE id IN ("
            " SELECT id FROM feed_test_rows WHERE batch IS NULL AND handed_off_at IS NULL"
            " ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING key"
        ),
        {"limit": limit},
    )
    keys = list(rows.scalars())
    for key in keys:
        await session.execute(
            text("INSERT INTO job_test_effects (key, attempt, pid) VALUES (:key, 0, :pid)"),
            {"key": f"handed:{key}", "pid": os.getpid()},
        )
    return len(keys)


async def feed_rows_backlog(session: AsyncSession) -> tuple[int, float | None]:
    if not await session.scalar(text("SELECT to_regclass('feed_test_rows') IS NOT NULL")):
        return 0, None
    count = await session.scalar(
        text("SELECT count(*) FROM feed_test_rows WHERE batch IS NULL AND handed_off_at IS NULL")
    )
    return int(count or 0), None


@feed(
    channel="kassa_test_feed",
    hand_off=hand_off_feed_rows,
    backlog=feed_rows_backlog,
    queue=FEED_QUEUE,
    batch_size=FEED_BATCH,
    linger_seconds=0.01,
)
async def drain_feed_rows(session: AsyncSession, limit: int) -> int:
    """Mark the next rows done by this transaction (``batch``); raise on a poisoned one.
    Nothing in a database without the table (every worker of the test process runs it)."""
    if not await session.scalar(text("SELECT to_regclass('feed_test_rows') IS NOT NULL")):
        return 0
    rows = await session.execute(
        text(
            "SELECT id, key, poison FROM feed_test_rows"
            " WHERE batch IS NULL AND handed_off_at IS NULL"
            " ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
        ),
        {"limit": limit},
    )
    taken = rows.all()
    ids = [row.id for row in taken]
    await _conflict_once(session, [row.key for row in taken])
    await session.execute(
        text("UPDATE feed_test_rows SET batch = txid_current() WHERE id = ANY(:ids)"),
        {"ids": ids},
    )
    if any(row.poison for row in taken):
        raise RuntimeError("a poisoned row")
    return len(taken)


async def _conflict_once(session: AsyncSession, keys: list[str]) -> None:
    """A row keyed ``conflict*`` fails its first batch with a serialization failure raised by
    PostgreSQL (``kassa_changed_since_read``, migration 0009): through the ORM for a key ending
    in ``orm``, on the plain asyncpg connection otherwise. An effect ``conflicted:<key>``,
    committed on another connection, remembers it."""
    for key in keys:
        if not key.startswith("conflict"):
            continue
        bind = session.bind
        async with bind.connect() as other:  # type: ignore[union-attr]
            seen = await other.scalar(
                text("SELECT count(*) FROM job_test_effects WHERE key = :key"),
                {"key": f"conflicted:{key}"},
            )
            if seen:
                continue
            await other.execute(
                text("INSERT INTO job_test_effects (key, attempt, pid) VALUES (:key, 0, 0)"),
                {"key": f"conflicted:{key}"},
            )
            await other.commit()
        changed = "SELECT kassa_changed_since_read('feed_test_rows')"
        if key.endswith("orm"):
            await session.execute(text(changed))
        else:
            await (await sql.connection(session)).execute(changed)
