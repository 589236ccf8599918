"""Throughput of kassa.jobs against what the queue fundamentally does (a benchmark, not a test).

Baseline, measured in the same run on the same database: a raw multi-row INSERT of N rows into
a table shaped like the queue (bigserial key, a partial index on queued rows), then
``DELETE ... RETURNING`` of them in batches with ``FOR UPDATE SKIP LOCKED`` on as many
connections as the worker configuration has consumers.

Kassa: ``enqueue_many`` in batches (one committed transaction each), then real ``kassa worker``
processes drain the queue. The drain clock starts when the first job leaves ``queued`` and stops
when the queue table is empty (polled every 20 ms), so process start-up is not counted.

    .venv/bin/python bench/jobs_throughput.py --jobs 20000
    KASSA_BENCH_DATABASE_URL=postgresql://... .venv/bin/python bench/jobs_throughput.py

Without ``KASSA_BENCH_DATABASE_URL``, an embedded PostgreSQL under ``.cache/bench-postgres``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kassa import migrate
from kassa.config import Settings
from kassa.jobs.queue import enqueue_many
from kassa.jobs.registry import JobContext, job
from kassa.kit.db import async_database_url, create_engine, create_sessionmaker

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


class Empty(BaseModel):
    n: int = 0


@job(max_attempts=1)
async def noop(ctx: JobContext, payload: Empty) -> None:
    """Does nothing: completed by pgqueuer's batched delete."""


@job(max_attempts=1)
async def touch(ctx: JobContext, payload: Empty) -> None:
    """One query: the job is completed in its own transaction (a delete + log row + commit)."""
    await ctx.session.execute(text("SELECT 1"))


HANDLERS = {"noop": noop, "touch": touch}


@dataclass(frozen=True)
class Config:
    handler: str
    concurrency: int
    batch: int
    consumers: int = 1
    processes: int = 1

    @property
    def label(self) -> str:
        return (
            f"{self.handler:<5} c={self.concurrency:<3} b={self.batch:<3} "
            f"consumers={self.consumers} procs={self.processes}"
        )


DEFAULT_CONFIGS = (
    Config("noop", 20, 10),
    Config("noop", 200, 100),
    Config("noop", 200, 100, consumers=2),
    Config("noop", 200, 100, processes=2),
    Config("noop", 200, 100, consumers=2, processes=2),
    Config("touch", 20, 10),
    Config("touch", 40, 20, processes=2),
)


def connect_kwargs(url: str) -> dict[str, Any]:
    engine = create_engine(url, Settings())
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    return dict(kwargs)


async def create_database(server_url: str) -> str:
    name = f"kassa_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(**connect_kwargs(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, Settings())
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return url


async def drop_database(server_url: str, url: str) -> None:
    admin = await asyncpg.connect(**connect_kwargs(server_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    finally:
        await admin.close()


async def baseline(
    url: str, jobs: int, insert_batch: int, batch: int, consumers: int
) -> tuple[float, float]:
    kwargs = connect_kwargs(url)
    connection = await asyncpg.connect(**kwargs)
    await connection.execute("""
        DROP TABLE IF EXISTS bench_baseline;
        CREATE TABLE bench_baseline (
            id bigserial PRIMARY KEY, priority integer NOT NULL, status text NOT NULL,
            entrypoint text NOT NULL, payload bytea, created timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ON bench_baseline (priority DESC, id) WHERE status = 'queued';
    """)
    payload = Empty().model_dump_json().encode()
    started = time.perf_counter()
    for offset in range(0, jobs, insert_batch):
        size = min(insert_batch, jobs - offset)
        await connection.execute(
            "INSERT INTO bench_baseline (priority, status, entrypoint, payload) "
            "SELECT 0, 'queued', 'bench', p FROM unnest($1::bytea[]) AS p",
            [payload] * size,
        )
    inserted = time.perf_counter() - started
    await connection.close()

    async def consume() -> None:
        worker = await asyncpg.connect(**kwargs)
        try:
            while await worker.fetch(
                "DELETE FROM bench_baseline WHERE id IN (SELECT id FROM bench_baseline "
                "WHERE status = 'queued' ORDER BY priority DESC, id LIMIT $1 "
                "FOR UPDATE SKIP LOCKED) RETURNING id, payload",
                batch,
            ):
                pass
        finally:
            await worker.close()

    started = time.perf_counter()
    await asyncio.gather(*(consume() for _ in range(consumers)))
    return jobs / inserted, jobs / (time.perf_counter() - started)


async def enqueue_phase(url: str, handler: str, jobs: int, batch: int) -> float:
    engine = create_engine(url, Settings())
    sessionmaker = create_sessionmaker(engine)
    payloads = [Empty(n=i) for i in range(batch)]
    try:
        started = time.perf_counter()
        for offset in range(0, jobs, batch):
            async with sessionmaker() as session:
                await enqueue_many(
                    session, HANDLERS[handler], payloads[: min(batch, jobs - offset)]
                )
                await session.commit()
        return jobs / (time.perf_counter() - started)
    finally:
        await engine.dispose()


async def drain_phase(url: str, config: Config, jobs: int) -> float:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KASSA_JOB_MODULES": json.dumps(["jobs_throughput"]),
        "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), os.environ.get("PYTHONPATH", "")]),
        "KASSA_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "kassa",
        "worker",
        "--concurrency",
        str(config.concurrency),
        "--batch-size",
        str(config.batch),
        "--consumers",
        str(config.consumers),
    ]
    workers = [
        await asyncio.create_subprocess_exec(
            *command, env=env, cwd=REPO, stdout=asyncio.subprocess.DEVNULL
        )
        for _ in range(config.processes)
    ]
    monitor = await asyncpg.connect(**connect_kwargs(url))

    async def count(statuses: str) -> int:
        if any(worker.returncode is not None for worker in workers):
            raise RuntimeError("a worker exited before the queue was drained")
        sql = f"SELECT count(*) FROM pgqueuer WHERE status::text IN ({statuses})"
        return int(await monitor.fetchval(sql))

    try:
        async with asyncio.timeout(600):
            while await count("'queued'") >= jobs:  # noqa: ASYNC110 -- polling the database
                await asyncio.sleep(0.02)
            started = time.perf_counter()
            while await count("'queued', 'picked'"):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
        if failed := await count("'failed'"):
            raise RuntimeError(f"{failed} jobs failed")
        return jobs / elapsed
    finally:
        await monitor.close()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            await worker.wait()


def parse_config(spec: str) -> Config:
    handler, *pairs = spec.split(",")
    values = {key: int(value) for key, value in (pair.split("=") for pair in pairs)}
    return Config(
        handler, values.get("c", 20), values.get("b", 10), values.get("k", 1), values.get("p", 1)
    )


async def run(arguments: argparse.Namespace, server: str) -> None:
    configs = [parse_config(c) for c in arguments.config] or list(DEFAULT_CONFIGS)
    url = await create_database(server)
    try:
        probe = await asyncpg.connect(**connect_kwargs(url))
        version = await probe.fetchval("SHOW server_version")
        await probe.close()
        cpu = platform.processor() or platform.machine()
        print(
            f"PostgreSQL {version}; {os.cpu_count()} CPUs ({cpu}); {arguments.jobs} jobs, "
            f"enqueue batches of {arguments.enqueue_batch}\n"
        )
        print(
            f"{'configuration':<42} {'enqueue/s':>10} {'x base':>6} {'drain/s':>9} {'x base':>6}"
            f"  baseline insert/s, delete/s"
        )
        for config in configs:
            insert_rate, delete_rate = await baseline(
                url,
                arguments.jobs,
                arguments.enqueue_batch,
                config.batch,
                config.consumers * config.processes,
            )
            enqueue_rate = await enqueue_phase(
                url, config.handler, arguments.jobs, arguments.enqueue_batch
            )
            drain_rate = await drain_phase(url, config, arguments.jobs)
            print(
                f"{config.label:<42} {enqueue_rate:>10,.0f} {enqueue_rate / insert_rate:>6.2f} "
                f"{drain_rate:>9,.0f} {drain_rate / delete_rate:>6.2f}"
                f"  {insert_rate:,.0f}, {delete_rate:,.0f}"
            )
    finally:
        await drop_database(server, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--enqueue-batch", type=int, default=1_000)
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        help="HANDLER,c=CONCURRENCY,b=BATCH,k=CONSUMERS,p=PROCESSES (repeat); default: a sweep",
    )
    arguments = parser.parse_args()
    server = os.environ.get("KASSA_BENCH_DATABASE_URL")
    if server:
        server = async_database_url(server)
    else:
        from kassa.embedded import start_embedded_postgres

        server = start_embedded_postgres(REPO / ".cache" / "bench-postgres", database="postgres")
    asyncio.run(run(arguments, server))


if __name__ == "__main__":
    # Run as the module `jobs_throughput`, the name worker processes import it under, so the
    # jobs' derived names (module:function) agree in both.
    sys.path.insert(0, str(BENCH_DIR))
    import jobs_throughput  # type: ignore[import-not-found]

    jobs_throughput.main()
