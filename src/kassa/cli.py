"""The ``kassa`` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import TypeVar

import click
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import Settings, get_settings
from kassa.kit import loop as event_loop

T = TypeVar("T")


def _database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return settings.database_url
    from kassa.embedded import start_embedded_postgres

    return start_embedded_postgres(settings.data_dir)


def _with_sessionmaker(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    from kassa.kit.db import create_engine, create_sessionmaker

    url = _database_url(settings)

    async def run() -> T:
        engine = create_engine(url, settings)
        try:
            return await work(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


@click.group()
def main() -> None:
    """Kassa: billing and monetization for software, with a Polar-compatible API."""
    from kassa.observability.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, json_logs=settings.log_json)


@main.command()
def migrate() -> None:
    """Apply database migrations (safe to run repeatedly and concurrently)."""
    from kassa import migrate as migrations
    from kassa.kit.db import create_engine

    settings = get_settings()
    url = _database_url(settings)

    async def run() -> str | None:
        engine = create_engine(url, settings)
        try:
            await migrations.upgrade(engine)
            return await migrations.current_revision(engine)
        finally:
            await engine.dispose()

    click.echo(f"Database at revision {asyncio.run(run())}")


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default KASSA_HOST).")
@click.option("--port", type=int, default=None, help="Port (default KASSA_PORT, 8000).")
@click.option("--migrate/--no-migrate", "run_migrations", default=True, show_default=True)
@click.option(
    "--worker/--no-worker",
    "with_worker",
    default=None,
    help="Also run the job worker in this process (default: on with the embedded database).",
)
def serve(
    host: str | None, port: int | None, run_migrations: bool, with_worker: bool | None
) -> None:
    """Run the API server. Without DATABASE_URL, on an embedded PostgreSQL."""

    from kassa import migrate as migrations
    from kassa.app import create_app
    from kassa.bootstrap import ensure_demo_organization
    from kassa.kit.db import create_engine, create_sessionmaker

    settings = get_settings().model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    url = _database_url(settings)

    async def prepare() -> str | None:
        engine = create_engine(url, settings)
        try:
            if run_migrations:
                await migrations.upgrade(engine)
            if settings.embedded_database and settings.demo_organization:
                return await ensure_demo_organization(
                    create_sessionmaker(engine), settings.resolved_secret_key(), settings.data_dir
                )
            return None
        finally:
            await engine.dispose()

    demo_token = asyncio.run(prepare())
    _print_banner(settings, demo_token)
    in_process_worker = settings.embedded_database if with_worker is None else with_worker
    app = create_app(settings, url)
    app.openapi()  # built once now, so that it is frozen with the rest
    event_loop.freeze_start_up_objects()
    event_loop.run(_serve(app, settings, url, in_process_worker))


class _Server(uvicorn.Server):
    """uvicorn re-raises a caught SIGTERM once it has shut down, which kills the process
    before exit handlers run (the embedded PostgreSQL would be left running). ``_serve``
    handles the signals itself instead, so the process exits normally."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(app: FastAPI, settings: Settings, url: str, with_worker: bool) -> None:
    """uvicorn, and the job worker beside it on the same event loop when asked."""
    from kassa.jobs.worker import Worker

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=20,
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    worker = Worker(url, settings, concurrency=settings.worker_concurrency) if with_worker else None
    worker_task = asyncio.create_task(worker.run()) if worker else None
    try:
        await server.serve()
    finally:
        if worker is not None and worker_task is not None:
            worker.stop()
            await worker_task


def _print_banner(settings: Settings, demo_token: str | None) -> None:
    lines = [
        "",
        f"  Kassa is running at {settings.base_url}",
        f"  Dashboard / API reference: {settings.base_url}/docs",
    ]
    if demo_token:
        lines += [
            f"  Demo organization access token: {demo_token}",
            "",
            "  Try it:",
            f"    curl -H 'Authorization: Bearer {demo_token}' {settings.base_url}/v1/products/",
        ]
    print("\n".join([*lines, ""]), file=sys.stdout, flush=True)


@main.group()
def admin() -> None:
    """Operator commands: organizations and access tokens."""


@admin.command("create-organization")
@click.option("--name", required=True)
@click.option("--slug", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def create_organization(name: str, slug: str | None, as_json: bool) -> None:
    """Create an organization and an access token with every scope; print both."""
    from kassa.bootstrap import create_organization_with_token

    settings = get_settings()
    credentials = _with_sessionmaker(
        settings,
        lambda sm: create_organization_with_token(sm, settings.resolved_secret_key(), name, slug),
    )
    payload = {
        "organization_id": str(credentials.organization_id),
        "organization_slug": credentials.organization_slug,
        "token_id": str(credentials.token_id),
        "token": credentials.token,
    }
    if as_json:
        click.echo(json.dumps(payload))
    else:
        for key, value in payload.items():
            click.echo(f"{key}: {value}")


@admin.command("create-token")
@click.option("--organization", "organization_id", type=click.UUID, required=True)
@click.option("--comment", default="Created with kassa admin")
@click.option("--scope", "scopes", multiple=True, help="Repeat; default: every scope.")
@click.option("--expires-in-days", type=click.IntRange(min=1), default=None)
def create_token(
    organization_id: uuid.UUID, comment: str, scopes: tuple[str, ...], expires_in_days: int | None
) -> None:
    """Create an organization access token and print it (it is shown only once)."""
    from kassa.auth import service
    from kassa.auth.scopes import ALL_SCOPES, Scope
    from kassa.kit.db import session_scope
    from kassa.organization.repository import OrganizationRepository

    try:
        chosen = {Scope(s) for s in scopes} if scopes else set(ALL_SCOPES)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--scope") from error
    settings = get_settings()

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
        async with session_scope(sessionmaker) as session:
            if await OrganizationRepository(session).get(organization_id) is None:
                raise click.ClickException(f"No organization {organization_id}")
            _, token = await service.create_token(
                session,
                organization_id,
                comment=comment,
                scopes=chosen,
                expires_in=timedelta(days=expires_in_days) if expires_in_days else None,
                secret_key=settings.resolved_secret_key(),
            )
            return token

    click.echo(_with_sessionmaker(settings, work))


@admin.command("list-tokens")
@click.option("--organization", "organization_id", type=click.UUID, required=True)
def list_tokens(organization_id: uuid.UUID) -> None:
    """List an organization's live access tokens."""
    from kassa.auth import service
    from kassa.kit.db import session_scope
    from kassa.kit.pagination import PaginationParams

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
        async with session_scope(sessionmaker) as session:
            rows, _ = await service.list_tokens(
                session, organization_id, PaginationParams(1, 100), ["created_at"]
            )
            return [
                f"{r.id}  expires={r.expires_at or 'never'}  last_used={r.last_used_at or '-'}"
                f"  scopes={len(r.scopes)}  {r.comment}"
                for r in rows
            ]

    for line in _with_sessionmaker(get_settings(), work):
        click.echo(line)


@admin.command("revoke-token")
@click.option("--organization", "organization_id", type=click.UUID, required=True)
@click.argument("token_id", type=click.UUID)
def revoke_token(organization_id: uuid.UUID, token_id: uuid.UUID) -> None:
    """Revoke an access token at once."""
    from kassa.auth import service
    from kassa.kit.db import session_scope
    from kassa.kit.errors import ResourceNotFound

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async with session_scope(sessionmaker) as session:
            try:
                row = await service.get_token(session, organization_id, token_id)
            except ResourceNotFound as error:
                raise click.ClickException(f"No live token {token_id}") from error
            await service.revoke_token(session, row)

    _with_sessionmaker(get_settings(), work)
    click.echo(f"Revoked {token_id}")


from kassa.jobs.cli import jobs, worker  # noqa: E402

main.add_command(worker)
main.add_command(jobs)
