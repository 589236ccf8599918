"""Signed webhook deliveries per second, through the real path, against raw HTTP POSTs.

Kassa: N events are emitted (rows + delivery jobs, as a change would), then real ``kassa
worker`` processes sign and deliver them to a local receiver. The clock runs from the first
delivery job leaving the queue to the last event succeeding (process start-up is not counted,
as in ``jobs_throughput``).
Baselines, same run, same receiver, same bodies, ``--concurrency`` requests in flight: unsigned
httpx POSTs and unsigned aiohttp POSTs.

    .venv/bin/python -m bench.webhook_delivery --events 5000 --concurrency 50
    .venv/bin/python -m bench.webhook_delivery --worker-concurrency 200 --worker-batch 100 \
        --processes 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

import aiohttp
import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench._support import REPO, fresh_database, machine, receiver_process, server_url
from kassa.config import Settings
from kassa.jobs.registry import definition_of
from kassa.kit.db import create_engine, create_sessionmaker, session_scope
from kassa.models import WebhookDelivery, WebhookEvent
from kassa.observability.logging import configure_logging
from kassa.organization.service import create_organization
from kassa.product.schemas import ProductCreate
from kassa.product.serialize import product_schema
from kassa.product.service import create_product
from kassa.webhook import service as webhook_service
from kassa.webhook.jobs import deliver_webhook_event
from kassa.webhook.schemas import WebhookEndpointCreate, WebhookEventType

Sessionmaker = async_sessionmaker[AsyncSession]


async def baseline(url: str, bodies: list[bytes], concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def post(body: bytes) -> None:
            async with semaphore:
                response = await client.post(
                    url, content=body, headers={"content-type": "application/json"}
                )
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(body) for body in bodies))
        return len(bodies) / (time.perf_counter() - started)


async def baseline_aiohttp(url: str, bodies: list[bytes], concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(body: bytes) -> None:
            async with (
                semaphore,
                session.post(url, data=body, headers={"content-type": "application/json"}) as r,
            ):
                await r.read()
                r.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post(body) for body in bodies))
        return len(bodies) / (time.perf_counter() - started)


async def drain(
    url: str, sessionmaker: Sessionmaker, events: int, concurrency: int, batch: int, processes: int
) -> float:
    """Start ``processes`` workers; deliveries per second from the first pick to the last."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KASSA_LOG_LEVEL": "WARNING",
        # The receiver is on 127.0.0.1, which the SSRF guard refuses by default.
        "KASSA_WEBHOOKS_ALLOW_PRIVATE": "true",
    }
    command = [sys.executable, "-m", "kassa", "worker"]
    command += ["--concurrency", str(concurrency), "--batch-size", str(batch)]
    workers = [
        await asyncio.create_subprocess_exec(
            *command, env=env, cwd=REPO, stdout=asyncio.subprocess.DEVNULL
        )
        for _ in range(processes)
    ]

    async def scalar(statement: str) -> int:
        if any(worker.returncode is not None for worker in workers):
            raise RuntimeError("a worker exited before every event was delivered")
        async with sessionmaker() as session:
            return int((await session.execute(text(statement))).scalar_one())

    try:
        async with asyncio.timeout(600):
            queued = (
                "SELECT count(*) FROM pgqueuer WHERE status = 'queued' "
                f"AND entrypoint = '{definition_of(deliver_webhook_event).name}'"
            )
            while await scalar(queued) >= events:  # noqa: ASYNC110 -- polling the database
                await asyncio.sleep(0.005)
            started = time.perf_counter()
            succeeded = "SELECT count(*) FROM webhook_events WHERE status = 'succeeded'"
            while await scalar(succeeded) < events:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            return events / (time.perf_counter() - started)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            await worker.wait()


async def main(
    server: str,
    events: int,
    concurrency: int,
    batch: int,
    worker_concurrency: int,
    worker_batch: int,
    processes: int,
) -> None:
    settings = Settings(
        secret_key="bench-" + "k" * 40,
        webhooks_allow_private=True,
        database_pool_size=5,
        log_level="WARNING",
    )
    url = await fresh_database(settings, server)
    engine = create_engine(url, settings)
    sessionmaker = create_sessionmaker(engine)
    with receiver_process() as receiver_url:
        async with session_scope(sessionmaker) as session:
            organization = await create_organization(session, "Bench")
            await webhook_service.create_endpoint(
                session,
                organization.id,
                WebhookEndpointCreate.model_validate(
                    {"url": receiver_url, "format": "raw", "events": ["product.updated"]}
                ),
            )
            product = await create_product(
                session,
                organization.id,
                ProductCreate.model_validate(
                    {"name": "Bench", "prices": [{"amount_type": "fixed", "price_amount": 1}]}
                ),
            )
            data = product_schema(product, is_deletable=True)

        started = time.perf_counter()
        for offset in range(0, events, batch):
            async with session_scope(sessionmaker) as session:
                for _ in range(min(batch, events - offset)):
                    # Distinct resources, so per-resource ordering does not serialize them.
                    await webhook_service.emit(
                        session,
                        organization.id,
                        WebhookEventType.product_updated,
                        f"product:{uuid.uuid4()}",
                        data,
                    )
        emit_rate = events / (time.perf_counter() - started)

        async with sessionmaker() as session:
            bodies = [
                p.encode() for p in (await session.execute(select(WebhookEvent.payload))).scalars()
            ]
        base_rate = await baseline(receiver_url, bodies, concurrency)
        aiohttp_rate = await baseline_aiohttp(receiver_url, bodies, concurrency)

        delivery_rate = await drain(
            url, sessionmaker, events, worker_concurrency, worker_batch, processes
        )
        async with sessionmaker() as session:
            attempts = await session.scalar(select(func.count()).select_from(WebhookDelivery))
    await engine.dispose()

    print(f"machine: {machine()}")
    print(
        f"events: {events}, baseline concurrency: {concurrency}, workers: {processes} "
        f"process(es) x concurrency {worker_concurrency}, batch size {worker_batch}"
    )
    print(f"emit (event rows + delivery jobs, {batch} per transaction): {emit_rate:,.0f} events/s")
    print(f"baseline: unsigned httpx POSTs:        {base_rate:,.0f} requests/s")
    print(f"baseline: unsigned aiohttp POSTs:      {aiohttp_rate:,.0f} requests/s")
    print(f"kassa: signed deliveries via the queue: {delivery_rate:,.0f} deliveries/s")
    print(f"delivery attempts logged: {attempts} for {events} events")
    print(f"ratio kassa / httpx baseline: {delivery_rate / base_rate:.2f}")
    print(f"ratio kassa / aiohttp baseline: {delivery_rate / aiohttp_rate:.2f}")


if __name__ == "__main__":
    os.environ["KASSA_WEBHOOKS_ALLOW_PRIVATE"] = "true"
    configure_logging("WARNING")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50, help="baseline requests in flight")
    parser.add_argument("--batch", type=int, default=500, help="events emitted per transaction")
    parser.add_argument("--worker-concurrency", type=int, default=200)
    parser.add_argument("--worker-batch", type=int, default=100, help="jobs per dequeue")
    parser.add_argument("--processes", type=int, default=1, help="kassa worker processes")
    args = parser.parse_args()
    asyncio.run(
        main(
            server_url(),
            args.events,
            args.concurrency,
            args.batch,
            args.worker_concurrency,
            args.worker_batch,
            args.processes,
        )
    )
