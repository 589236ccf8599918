"""Signed webhook deliveries per second, through the real path, against raw HTTP POSTs.

Kassa: N events are emitted (rows + delivery jobs, as a change would), then the job worker
signs and delivers them to a local receiver until every event has succeeded.
Baseline, same run, same receiver, same concurrency: N unsigned httpx POSTs of the same bodies.

    .venv/bin/python -m bench.webhook_delivery --events 5000 --concurrency 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

import aiohttp
import httpx
from sqlalchemy import func, select

from bench._support import fresh_database, machine, receiver_process, server_url
from kassa.config import Settings
from kassa.jobs.worker import Worker
from kassa.kit.db import create_engine, create_sessionmaker, session_scope
from kassa.models import WebhookEvent
from kassa.observability.logging import configure_logging
from kassa.organization.service import create_organization
from kassa.product.schemas import ProductCreate
from kassa.product.serialize import product_schema
from kassa.product.service import create_product
from kassa.webhook import service as webhook_service
from kassa.webhook.schemas import WebhookEndpointCreate, WebhookEventType


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


async def main(server: str, events: int, concurrency: int, batch: int) -> None:
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
            data = product_schema(product)

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

        worker = Worker(url, settings, concurrency=concurrency, batch_size=min(50, concurrency))
        task = asyncio.create_task(worker.run())
        started = time.perf_counter()
        while True:
            async with sessionmaker() as session:
                done = await session.scalar(
                    select(func.count()).where(WebhookEvent.status == "succeeded")
                )
            if done >= events:
                break
            await asyncio.sleep(0.1)
        delivery_rate = events / (time.perf_counter() - started)
        worker.stop()
        await task
    await engine.dispose()

    print(f"machine: {machine()}")
    print(f"events: {events}, worker concurrency: {concurrency}")
    print(f"emit (event rows + delivery jobs, {batch} per transaction): {emit_rate:,.0f} events/s")
    print(f"baseline: unsigned httpx POSTs:        {base_rate:,.0f} requests/s")
    print(f"baseline: unsigned aiohttp POSTs:      {aiohttp_rate:,.0f} requests/s")
    print(f"kassa: signed deliveries via the queue: {delivery_rate:,.0f} deliveries/s")
    print(f"ratio kassa / httpx baseline: {delivery_rate / base_rate:.2f}")
    print(f"ratio kassa / aiohttp baseline: {delivery_rate / aiohttp_rate:.2f}")


if __name__ == "__main__":
    # The receiver is on 127.0.0.1, which the SSRF guard refuses by default.
    os.environ["KASSA_WEBHOOKS_ALLOW_PRIVATE"] = "true"
    configure_logging("WARNING")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(server_url(), args.events, args.concurrency, args.batch))
