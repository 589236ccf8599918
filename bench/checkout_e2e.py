"""Paid sandbox checkouts end to end, against a bare HTTP handler (a benchmark, not a test).

Real processes: ``kassa serve`` (API) and ``kassa worker`` (settlement, webhook deliveries),
PostgreSQL, and a webhook receiver in this process. One checkout is: create (API) → confirm
with the sandbox's ``pm_card_visa`` (API) → settlement batch of the inbox feed (inbox event →
payment, order, ``order.paid`` event) → delivery job → signed ``order.paid`` received here. Its
latency runs from the start of the create request to the webhook's arrival.

After a warm-up of 100 checkouts, the database gets a merchant's history: ``--history``
checkouts with their payments, orders and events, copied from the warm-up's (``_history``).

Phase 1, throughput: ``--checkouts`` checkouts with ``--concurrency`` in flight (closed loop).
Phase 2, latency: new checkouts at half the measured rate (or ``--rate``) for ``--seconds`` (open
loop), p50/p99.
Baselines, same run, same client and concurrency, each a bare ASGI handler in its own process:
POSTs answered at once, and POSTs that each make ``--round-trips`` database round trips in one
transaction (``BEGIN``, queries, ``COMMIT``: what a Kassa request makes on average) with plain
asyncpg. A checkout costs two requests, so each ratio is checkouts/s ÷ (requests/s ÷ 2).

    .venv/bin/python -m bench.checkout_e2e --checkouts 2000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from bench._history import add_history
from bench._support import (
    REPO,
    CpuMeter,
    calibration_ms,
    free_port,
    fresh_database,
    libpq,
    machine,
    receiver_process,
    run,
    server_url,
)
from kassa.bootstrap import create_organization_with_token
from kassa.config import Settings
from kassa.kit.db import create_engine, create_sessionmaker

SECRET = "bench-" + "k" * 40
PAY = {
    "customer_email": "bench@example.com",
    "customer_billing_address": {"country": "US"},
    "confirmation_token_id": "pm_card_visa",
}


class Receiver:
    """Receives ``order.paid`` webhooks and resolves the waiter of their checkout."""

    def __init__(self) -> None:
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.received = 0

    def expect(self, checkout_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[checkout_id] = future
        return future

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.received += 1
        future = self.waiters.pop(str(body["data"]["checkout_id"]), None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())
        return web.Response(text="ok")


@contextmanager
def kassa_processes(
    database_url: str, ports: list[int], worker_concurrency: int
) -> Iterator[dict[str, list[int]]]:
    """``kassa serve`` on each port (the API processes a load balancer would spread requests
    over) and one ``kassa worker``; their pids."""
    env = dict(os.environ) | {
        "DATABASE_URL": database_url,
        "KASSA_SECRET_KEY": SECRET,
        "KASSA_WEBHOOKS_ALLOW_PRIVATE": "true",
        "KASSA_LOG_LEVEL": "WARNING",
        "KASSA_DATA_DIR": str(REPO / ".cache" / "bench-data"),
    }
    kassa = [sys.executable, "-m", "kassa"]
    serve = [*kassa, "serve", "--host", "127.0.0.1", "--no-worker", "--no-migrate", "--port"]
    processes = [subprocess.Popen([*serve, str(port)], env=env) for port in ports]
    processes.append(
        subprocess.Popen([*kassa, "worker", "--concurrency", str(worker_concurrency)], env=env)
    )
    try:
        yield {"api": [p.pid for p in processes[:-1]], "worker": [processes[-1].pid]}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


async def wait_ready(http: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            async with http.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the Kassa server did not become ready")


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any], **kw: Any) -> Any:
    async with http.post(url, json=body, **kw) as response:
        data = await response.json()
        if response.status >= 300:
            raise RuntimeError(f"{url} answered {response.status}: {data}")
        return data


async def one_checkout(
    http: aiohttp.ClientSession,
    base: str,
    headers: dict[str, str],
    product_id: str,
    receiver: Receiver,
    phases: list[tuple[float, float, float]],
    new_customer: bool,
) -> float:
    """One checkout's latency; its phases (create, confirm, confirmed → webhook) go to
    ``phases``. ``new_customer``: paid with an email never seen (a customer is created)."""
    started = time.perf_counter()
    checkout = await post(
        http, f"{base}/v1/checkouts/", {"product_id": product_id}, headers=headers
    )
    created = time.perf_counter()
    arrived = receiver.expect(checkout["id"])
    pay = PAY | {"customer_email": f"buyer-{checkout['id']}@example.com"} if new_customer else PAY
    await post(http, f"{base}/v1/checkouts/client/{checkout['client_secret']}/confirm", pay)
    confirmed = time.perf_counter()
    received = await asyncio.wait_for(arrived, timeout=60)
    phases.append((created - started, confirmed - created, received - confirmed))
    return received - started


async def closed_loop(count: int, concurrency: int, run: Any) -> tuple[float, list[float]]:
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def task() -> None:
        async with semaphore:
            latencies.append(await run())

    started = time.perf_counter()
    await asyncio.gather(*(task() for _ in range(count)))
    return count / (time.perf_counter() - started), latencies


async def open_loop(rate: float, seconds: float, run: Any) -> list[float]:
    tasks = []
    interval = 1.0 / rate
    started = time.perf_counter()
    for number in range(int(rate * seconds)):
        delay = started + number * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(run()))
    return list(await asyncio.gather(*tasks))


async def baseline(http: aiohttp.ClientSession, url: str, count: int, concurrency: int) -> float:
    async def run() -> float:
        async with http.post(url, json={"product_id": "x"}) as response:
            await response.read()
            response.raise_for_status()
        return 0.0

    rate, _ = await closed_loop(count, concurrency, run)
    return rate


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def p50_p99(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:.0f} ms, "
        f"p99 {percentile(values, 0.99) * 1000:.0f} ms"
    )


async def main(args: argparse.Namespace, server: str) -> None:
    speed = calibration_ms()
    settings = Settings(secret_key=SECRET, log_level="WARNING")
    database_url = await fresh_database(settings, server)
    engine = create_engine(database_url, settings)
    credentials = await create_organization_with_token(
        create_sessionmaker(engine), settings.resolved_secret_key(), "Bench"
    )
    await engine.dispose()
    headers = {"Authorization": f"Bearer {credentials.token}"}
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    hook_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()
    ports = [free_port() for _ in range(args.api_processes)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    base = bases[0]
    connector = aiohttp.TCPConnector(limit=args.concurrency * 2, keepalive_timeout=2)
    database_env = {
        "BENCH_DATABASE": json.dumps(libpq(database_url)),
        "BENCH_ROUND_TRIPS": str(args.round_trips),
    }
    with (
        kassa_processes(database_url, ports, args.worker_concurrency) as pids,
        receiver_process() as bare,
        receiver_process("bench._round_trips:app", database_env) as bare_database,
    ):
        async with aiohttp.ClientSession(connector=connector) as http:
            for api in bases:
                await wait_ready(http, api)
            await post(
                http,
                f"{base}/v1/webhooks/endpoints",
                {
                    "url": f"http://127.0.0.1:{hook_port}/hook",
                    "format": "raw",
                    "events": ["order.paid"],
                },
                headers=headers,
            )
            product = await post(
                http,
                f"{base}/v1/products/",
                {"name": "Bench", "prices": [{"amount_type": "fixed", "price_amount": 1000}]},
                headers=headers,
            )

            phases: list[tuple[float, float, float]] = []

            counter = itertools.count()

            async def run() -> float:
                api = bases[next(counter) % len(bases)]  # round robin, as a load balancer
                return await one_checkout(
                    http, api, headers, product["id"], receiver, phases, args.new_customers
                )

            warm_up = min(100, args.checkouts)
            await closed_loop(warm_up, args.concurrency, run)
            history = await _add_history(database_url, args.history // warm_up)
            bare_rate = await baseline(http, bare, args.checkouts * 2, args.concurrency)
            database_rate = await baseline(
                http, bare_database, args.checkouts * 2, args.concurrency
            )
            phases.clear()
            meter = CpuMeter(pids)
            meter.start()
            rate, loaded = await closed_loop(args.checkouts, args.concurrency, run)
            cpu = meter.used()
            loaded_phases = list(phases)
            phases.clear()
            open_rate = args.rate or rate / 2
            latencies = await open_loop(open_rate, args.seconds, run)
    await runner.cleanup()

    print(
        f"machine: {machine()}; calibration loop {speed:.0f} ms before the run, "
        f"{calibration_ms():.0f} ms after"
    )
    print(
        f"checkouts: {args.checkouts}, concurrency: {args.concurrency}, API processes: "
        f"{args.api_processes}, worker concurrency: {args.worker_concurrency}, "
        f"{'a new customer each' if args.new_customers else 'one returning customer'}"
    )
    print(f"history: {history:,} checkouts in the database before the run")
    print(f"baseline: bare handler POSTs:            {bare_rate:,.0f} requests/s")
    print(f"kassa: paid checkouts (create→webhook):  {rate:,.0f} checkouts/s")
    print(
        f"baseline: bare handler POSTs with {args.round_trips} database round trips each: "
        f"{database_rate:,.0f} requests/s"
    )
    print(f"ratio kassa / (baseline / 2 requests):   {rate / (bare_rate / 2):.3f}")
    print(f"ratio kassa / (database baseline / 2):   {rate / (database_rate / 2):.3f}")
    per_checkout = ", ".join(
        f"{name} {seconds / args.checkouts * 1000:.2f}" for name, seconds in cpu.items()
    )
    print(
        f"CPU ms per checkout at full load: {per_checkout}, "
        f"all {sum(cpu.values()) / args.checkouts * 1000:.2f}"
    )
    # An upper bound: every core busy with Kassa's processes alone (the load generator and
    # receiver elsewhere), none of it idle or in the kernel on nobody's behalf.
    kassa_seconds = sum(seconds for name, seconds in cpu.items() if name != "bench")
    cores = os.cpu_count() or 1
    print(
        f"upper bound, {cores} cores busy with Kassa alone: "
        f"{cores * args.checkouts / kassa_seconds:,.0f} checkouts/s"
    )
    print(f"latency at full load: {p50_p99(loaded)}")
    print_phases(loaded_phases)
    print(
        f"latency at {open_rate:,.0f} checkouts/s for {args.seconds:.0f} s ({len(latencies)}): "
        f"{p50_p99(latencies)}"
    )
    print_phases(phases)


async def _add_history(database_url: str, copies: int) -> int:
    connection = await asyncpg.connect(**libpq(database_url))  # type: ignore[call-overload]
    try:
        return await add_history(connection, copies)
    finally:
        await connection.close()


def print_phases(phases: list[tuple[float, float, float]]) -> None:
    names = ("create", "confirm", "confirmed → webhook")
    for name, values in zip(names, zip(*phases, strict=True), strict=True):
        print(f"  {name}: {p50_p99(list(values))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--checkouts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--worker-concurrency", type=int, default=100)
    parser.add_argument(
        "--api-processes", type=int, default=1, help="kassa serve processes, used in turn"
    )
    parser.add_argument(
        "--new-customers",
        action="store_true",
        help="every checkout by a new customer (default: one returning customer buys them all)",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=20_000,
        help="checkouts (with their sales) in the database before the run; 0: none",
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="checkouts/s of the latency phase (default: half the measured throughput)",
    )
    parser.add_argument(
        "--round-trips",
        type=int,
        default=8,
        help="database round trips per request of the database baseline (Kassa's average)",
    )
    # Outside the event loop: the embedded server's start-up runs one of its own.
    run(main(parser.parse_args(), server_url()))
