"""The `kassa` command as an operator runs it: real processes, real PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from kassa.migrate import head_revision
from tests.conftest import _libpq_kwargs, create_database, drop_database
from tests.support.live_server import (
    create_organization,
    free_port,
    kassa_env,
    run_kassa_cli,
    spawn_kassa,
    start_kassa,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def empty_database(database_url: str) -> Iterator[str]:
    """A database of its own on the test server, with no schema yet."""
    name = f"kassa_cli_{secrets.token_hex(4)}"
    yield asyncio.run(create_database(database_url, name, migrated=False))
    asyncio.run(drop_database(database_url, name))


async def _revision_and_tables(url: str) -> tuple[str, set[str]]:
    connection = await asyncpg.connect(**_libpq_kwargs(url))  # type: ignore[arg-type]
    try:
        revision = await connection.fetchval("SELECT version_num FROM alembic_version")
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    return revision, {row["tablename"] for row in rows}


def test_migrate_is_idempotent_and_safe_concurrently(empty_database: str) -> None:
    env = kassa_env(empty_database)
    command = [sys.executable, "-m", "kassa", "migrate"]
    racers = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for racer in racers:
        _, stderr = racer.communicate(timeout=120)
        assert racer.returncode == 0, stderr.decode()
    again = run_kassa_cli(["migrate"], empty_database)
    assert f"revision {head_revision()}" in again.stdout

    revision, tables = asyncio.run(_revision_and_tables(empty_database))
    assert revision == head_revision()
    assert {"organizations", "products", "customers", "organization_access_tokens"} <= tables


def test_serve_uses_the_given_database(empty_database: str) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="kassa-external-"))
    server = start_kassa(empty_database, env={"KASSA_DATA_DIR": str(data_dir)})
    try:
        credentials = create_organization(empty_database, "External Co")
        headers = {"Authorization": f"Bearer {credentials.token}"}
        created = httpx.post(
            f"{server.base_url}/v1/products/",
            headers=headers,
            json={"name": "On external PG", "prices": [{"amount_type": "free"}]},
        )
        assert created.status_code == 201, created.text
        assert httpx.get(f"{server.base_url}/readyz").status_code == 200
    finally:
        server.stop()
    assert not (data_dir / "postgres").exists(), "started an embedded PostgreSQL anyway"


def test_first_start_on_embedded_postgres_prints_a_working_token() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="kassa-embedded-", dir="/tmp"))
    data_dir.chmod(0o755)
    env = {"DATABASE_URL": "", "KASSA_DATA_DIR": str(data_dir)}
    port = free_port()
    tokens = []
    for _ in range(2):  # a first start, then a restart on the same data
        process = spawn_kassa(["serve", "--port", str(port)], "", env=env)
        try:
            _wait_ready(f"http://127.0.0.1:{port}", process)
            match = re.search(r"access token: (kassa_oat_\S+)", process.log_path.read_text())
            assert match, process.log_tail()
            tokens.append(match.group(1))
            headers = {"Authorization": f"Bearer {match.group(1)}"}
            organizations = httpx.get(f"http://127.0.0.1:{port}/v1/organizations/", headers=headers)
            assert organizations.status_code == 200
            assert [o["slug"] for o in organizations.json()["items"]] == ["demo"]
        finally:
            process.stop()
    assert tokens[0] == tokens[1]
    assert (data_dir / "postgres" / "PG_VERSION").exists()


def _wait_ready(base_url: str, process: object) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready: {process.log_tail()}")  # type: ignore[attr-defined]
