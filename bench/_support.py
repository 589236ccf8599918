"""What the benchmarks share: a fresh migrated database, a tenant, timing."""

from __future__ import annotations

import asyncio
import atexit
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from kassa import migrate
from kassa.config import Settings
from kassa.kit import loop
from kassa.kit.db import async_database_url, create_engine

REPO = Path(__file__).resolve().parent.parent


def server_url() -> str:
    configured = os.environ.get("KASSA_BENCH_DATABASE_URL")
    if configured:
        return async_database_url(configured)
    from kassa.embedded import start_embedded_postgres

    return start_embedded_postgres(REPO / ".cache" / "bench-postgres", database="postgres")


def libpq(url: str) -> dict[str, object]:
    parsed = make_url(url)
    kwargs: dict[str, object] = {"user": parsed.username or "postgres"}
    kwargs["database"] = parsed.database or "postgres"
    host = parsed.query.get("host") or parsed.host
    if host:
        kwargs["host"] = host
    if parsed.port:
        kwargs["port"] = parsed.port
    return kwargs


async def fresh_database(settings: Settings, server: str) -> str:
    """A new database on the benchmark server (from ``server_url()``), migrated to head, and
    dropped when the benchmark exits."""
    name = f"kassa_bench_{secrets.token_hex(4)}"
    await _run_on(server, f'CREATE DATABASE "{name}"')
    # WITH (FORCE): the benchmark's own servers may not have closed their connections yet.
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    atexit.register(lambda: asyncio.run(_run_on(server, drop)))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, settings)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return url


async def _run_on(server: str, statement: str) -> None:
    connection = await asyncpg.connect(**libpq(server))  # type: ignore[call-overload]
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def receiver_process(
    app: str = "bench._receiver:app", env: dict[str, str] | None = None
) -> Iterator[str]:
    """A uvicorn server of a bare ASGI ``app`` in its own process; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--lifespan",
            "auto",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=REPO,
        env=dict(os.environ) | (env or {}),
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        process.terminate()
        process.wait(timeout=10)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """On uvloop, as Kassa's processes run: the load generator shares their two cores, so
    the less of them it takes, the more of the figure is Kassa's."""
    loop.run(coroutine)


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``); with
    ``reaped_children``, plus that of its children that exited and were waited for."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine, with the backends that exited
    meanwhile (the postmaster reaps them: a pool that opens and closes connections under load
    pays for each backend)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as comm:
                if comm.read().strip() != "postgres":
                    continue
            total += cpu_seconds(int(entry), reaped_children=True)
        except OSError:
            continue
    return total


class CpuMeter:
    """CPU seconds used by named groups of processes (and PostgreSQL, and this process) over
    an interval."""

    def __init__(self, processes: dict[str, list[int]]) -> None:
        self.processes = processes
        self.started: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {name: sum(map(cpu_seconds, pids)) for name, pids in self.processes.items()}
        now["postgres"] = postgres_cpu_seconds()
        now["bench"] = cpu_seconds(os.getpid())
        return now

    def start(self) -> None:
        self.started = self._now()

    def used(self) -> dict[str, float]:
        now = self._now()
        return {name: now[name] - self.started[name] for name in now}


def calibration_ms() -> float:
    """Milliseconds a fixed pure-Python loop takes here now (best of five): this machine's
    speed varies by tens of percent over minutes (it is a VM on a shared host), so each run
    prints it beside its figures."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for number in range(1_000_000):
            total += number * number
        best = min(best, time.perf_counter() - started)
    return best * 1000
