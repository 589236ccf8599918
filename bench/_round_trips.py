"""A bare handler that makes the database round trips a Kassa request makes, and nothing else.

Each POST runs one transaction on an asyncpg pool: ``BEGIN``, ``BENCH_ROUND_TRIPS - 2``
one-row queries, ``COMMIT``. ``BENCH_DATABASE`` holds the asyncpg connection arguments (JSON).
It measures what the database, the driver and the machine's syscalls cost on their own.
"""

from __future__ import annotations

import json
import os
from typing import Any

import asyncpg
from starlette.types import Receive, Scope, Send

ROUND_TRIPS = int(os.environ.get("BENCH_ROUND_TRIPS", "8"))
_pool: list[Any] = []


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                arguments = json.loads(os.environ["BENCH_DATABASE"])
                _pool.append(await asyncpg.create_pool(min_size=20, max_size=20, **arguments))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await _pool[0].close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    while (await receive()).get("more_body"):
        pass
    async with _pool[0].acquire() as connection, connection.transaction():
        for number in range(ROUND_TRIPS - 2):
            await connection.fetchval("SELECT $1::int", number)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})
