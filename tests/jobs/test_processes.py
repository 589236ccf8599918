"""Real `kassa worker` and `kassa jobs` processes: signals, crashes, several workers, the CLI."""

from __future__ import annotations

import itertools
import json
import signal
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from kassa.config import Settings
from kassa.jobs.queue import enqueue
from kassa.kit.db import create_engine, create_sessionmaker, session_scope
from tests.conftest import TEST_SECRET_KEY, _libpq_kwargs
from tests.jobs.conftest import DatabaseFactory, run_blocking
from tests.jobs.handlers import Note, record
from tests.support.live_server import (
    KassaProcess,
    KassaProcessError,
    free_port,
    run_kassa_cli,
    spawn_kassa,
)

pytestmark = pytest.mark.slow

HANDLERS = '["tests.jobs.handlers"]'


def worker_env(**extra: str) -> dict[str, str]:
    return {"KASSA_JOB_MODULES": HANDLERS, "KASSA_JOB_HEARTBEAT_TIMEOUT_SECONDS": "1", **extra}


@pytest.fixture
def db(new_database: DatabaseFactory) -> str:
    return new_database()


def fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(**_libpq_kwargs(url))  # type: ignore[arg-type]
        try:
            return await connection.fetch(sql, *args)
        finally:
            await connection.close()

    result: list[asyncpg.Record] = run_blocking(run())
    return result


def add_job(url: str, note: Note) -> int:
    async def run() -> int:
        engine = create_engine(url, Settings(secret_key=TEST_SECRET_KEY))
        try:
            async with session_scope(create_sessionmaker(engine)) as session:
                return await enqueue(session, record, note)
        finally:
            await engine.dispose()

    job_id: int = run_blocking(run())
    return job_id


def status(url: str, job_id: int) -> str | None:
    rows = fetch(url, "SELECT status::text FROM pgqueuer WHERE id = $1", job_id)
    return rows[0][0] if rows else None


def effects(url: str, key: str) -> list[tuple[int, int]]:
    rows = fetch(url, "SELECT attempt, pid FROM job_test_effects WHERE key = $1 ORDER BY id", key)
    return [(row["attempt"], row["pid"]) for row in rows]


def wait_for(check: Callable[[], Any], timeout: float, *workers: KassaProcess) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        for worker in workers:
            if not worker.is_running():
                raise KassaProcessError(f"worker exited early:\n{worker.log_tail()}")
        time.sleep(0.05)
    tails = "\n".join(worker.log_tail() for worker in workers)
    raise AssertionError(f"condition not met within {timeout}s\n{tails}")


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return ""  # not listening yet


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_finishes_the_running_job_takes_no_new_one_and_exits_0(
    db: str, sig: signal.Signals
) -> None:
    port = free_port()
    worker = spawn_kassa(["worker", "--metrics-port", str(port)], db, env=worker_env())
    try:
        job_id = add_job(db, Note(key="in-flight", sleep=1.5))
        running = 'kassa_jobs_running{entrypoint="tests.jobs.handlers:record"} 1.0'
        wait_for(lambda: running in scrape(port), 20, worker)
        assert status(db, job_id) == "picked"

        worker.process.send_signal(sig)
        wait_for(lambda: "worker_stopping" in worker.log_path.read_text(), 5, worker)
        late = add_job(db, Note(key="late"))
        assert worker.process.wait(timeout=15) == 0, worker.log_tail()
    finally:
        worker.kill()
    assert effects(db, "in-flight") == [(1, worker.pid)]
    assert status(db, job_id) is None
    assert status(db, late) == "queued"


def test_a_job_of_a_killed_worker_runs_again_on_another(db: str) -> None:
    crashing = spawn_kassa(["worker"], db, env=worker_env(KASSA_TEST_JOB_SLEEP="60"))
    try:
        job_id = add_job(db, Note(key="orphan"))
        wait_for(lambda: status(db, job_id) == "picked", 20, crashing)
    finally:
        crashing.kill()
    rescuer = spawn_kassa(["worker"], db, env=worker_env())
    try:
        # The orphan's heartbeat stops; after 1 s it is stale and the rescuer claims it.
        wait_for(lambda: effects(db, "orphan"), 20, rescuer)
        wait_for(lambda: status(db, job_id) is None, 5, rescuer)
    finally:
        assert rescuer.stop() == 0, rescuer.log_tail()
    assert effects(db, "orphan") == [(1, rescuer.pid)]


def test_two_workers_run_a_periodic_task_once_per_period(db: str) -> None:
    env = worker_env(KASSA_JOB_MODULES='["tests.jobs.handlers", "tests.jobs.periodic_handlers"]')
    workers = [spawn_kassa(["worker"], db, env=env) for _ in range(2)]

    def ticks() -> list[asyncpg.Record]:
        return fetch(db, "SELECT key, pid FROM job_test_effects WHERE key LIKE 'tick:%'")

    try:
        wait_for(lambda: len({row["key"] for row in ticks()}) >= 5, 30, *workers)
    finally:
        codes = [worker.stop() for worker in workers]
    assert codes == [0, 0], [worker.log_tail() for worker in workers]

    rows = ticks()
    per_period = Counter(row["key"] for row in rows)
    assert per_period and all(count == 1 for count in per_period.values()), per_period
    periods = sorted(datetime.fromisoformat(key.removeprefix("tick:")) for key in per_period)
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(periods)}
    assert gaps and all(gap % 2 == 0 for gap in gaps), periods
    ledger = fetch(db, "SELECT count(*) FROM job_periodic_runs WHERE name LIKE '%:tick'")
    assert ledger[0][0] >= len(per_period)
    fires = sum(w.log_path.read_text().count('"periodic_fired"') for w in workers)
    assert fires >= len(per_period)


def test_failed_jobs_are_listed_and_retried_from_the_cli(db: str) -> None:
    fetch(db, "INSERT INTO job_test_effects (key, attempt, pid) VALUES ('marker:cli', 0, 0)")
    job_id = add_job(db, Note(key="cli", fail_while_marked=True))
    worker = spawn_kassa(["worker"], db, env=worker_env())
    try:
        wait_for(lambda: status(db, job_id) == "failed", 20, worker)

        listed = run_kassa_cli(["jobs", "failed", "--json"], db).stdout.strip().splitlines()
        (entry,) = [json.loads(line) for line in listed if line.startswith("{")]
        assert entry["id"] == job_id and entry["attempts"] == 3
        assert entry["entrypoint"] == "tests.jobs.handlers:record"
        assert entry["payload"]["key"] == "cli"
        assert entry["error"] == {
            "exception_type": "RuntimeError",
            "exception_message": "marked broken",
        }
        assert "Traceback" in entry["traceback"]
        assert (
            f"{job_id}  tests.jobs.handlers:record  attempts=3"
            in run_kassa_cli(["jobs", "failed"], db).stdout
        )

        with pytest.raises(KassaProcessError, match="Not in the failed state"):
            run_kassa_cli(["jobs", "retry", "999999999"], db)
        fetch(db, "DELETE FROM job_test_effects WHERE key = 'marker:cli'")  # the fix ships
        assert "Requeued 1 job(s)" in run_kassa_cli(["jobs", "retry", str(job_id)], db).stdout
        wait_for(lambda: effects(db, "cli"), 20, worker)
        assert effects(db, "cli") == [(1, worker.pid)]  # attempts start over
        wait_for(lambda: status(db, job_id) is None, 5, worker)
        assert "Requeued 0 job(s)" in run_kassa_cli(["jobs", "retry", "--all"], db).stdout
    finally:
        assert worker.stop() == 0, worker.log_tail()
