"""The request transaction with deferred writes: they run last, in the transaction when the
request wrote anything else, else as one statement on their own (no BEGIN, no COMMIT); a
request that fails, or whose deferred writes conflict, leaves nothing."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kassa.kit import sql
from kassa.kit.transaction import TransactionMiddleware, request_transaction
from tests.kit.organizations import new_organization, store, stored_slugs
from tests.support.statements import record_statements

Sessionmaker = async_sessionmaker[AsyncSession]


async def _handler(request: Request) -> JSONResponse:
    """Reads, then writes what the query asks: ``defer`` (a slug inserted last), ``now`` (a
    slug inserted at once), ``orm`` (a slug added to the ORM session); ``status`` answers."""
    session = request_transaction(request.scope).session()
    await (await sql.reading_connection(session)).fetchval("SELECT 1")
    query = request.query_params
    writes = sql.deferred(session)
    assert writes is not None
    if "defer" in query:
        writes.insert([new_organization(query["defer"])])
    if "now" in query:
        await sql.insert(session, [new_organization(query["now"])])
    if "orm" in query:
        session.add(new_organization(query["orm"]))
    return JSONResponse({}, status_code=int(query.get("status", "200")))


@pytest_asyncio.fixture
async def http(sessionmaker: Sessionmaker) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[Route("/", _handler, methods=["POST"])])
    app.add_middleware(TransactionMiddleware, sessionmaker=sessionmaker)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as client:
        yield client


async def test_deferred_writes_alone_run_as_one_statement_without_begin_or_commit(
    http: httpx.AsyncClient, sessionmaker: Sessionmaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = f"alone-{secrets.token_hex(4)}"
    assert (await http.post("/")).status_code == 200  # a pooled connection, set up
    statements = record_statements(monkeypatch)
    response = await http.post("/", params={"defer": slug})
    monkeypatch.undo()
    assert response.status_code == 200
    assert statements[0] == "SELECT 1", statements
    assert statements[1].startswith("INSERT INTO organizations")
    assert len(statements) == 2, statements  # no BEGIN, no COMMIT
    assert await stored_slugs(sessionmaker, slug) == {slug}


async def test_deferred_writes_join_a_transaction_the_request_began(
    http: httpx.AsyncClient, sessionmaker: Sessionmaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    deferred, now, orm = (f"{kind}-{secrets.token_hex(4)}" for kind in ("d", "n", "o"))
    statements = record_statements(monkeypatch)
    response = await http.post("/", params={"defer": deferred, "now": now, "orm": orm})
    monkeypatch.undo()
    assert response.status_code == 200
    assert len([s for s in statements if s.upper().startswith("BEGIN")]) == 1
    assert await stored_slugs(sessionmaker, deferred, now, orm) == {deferred, now, orm}

    # With only the ORM's pending insert besides, they still share its transaction: a conflict
    # of the deferred insert takes the ORM's insert with it.
    orm_only = f"o-{secrets.token_hex(4)}"
    response = await http.post("/", params={"defer": deferred, "orm": orm_only})
    assert response.status_code == 409
    assert await stored_slugs(sessionmaker, orm_only) == set()


@pytest.mark.parametrize("alongside", [{}, {"now": "n"}])
async def test_a_deferred_write_that_conflicts_answers_409_and_leaves_nothing(
    http: httpx.AsyncClient, sessionmaker: Sessionmaker, alongside: dict[str, str]
) -> None:
    taken = new_organization()
    await store(sessionmaker, taken)
    written = {key: f"{value}-{secrets.token_hex(4)}" for key, value in alongside.items()}
    response = await http.post("/", params={"defer": taken.slug, **written})
    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"
    assert await stored_slugs(sessionmaker, *written.values()) == set()


async def test_deferred_writes_of_a_failed_request_never_run(
    http: httpx.AsyncClient, sessionmaker: Sessionmaker
) -> None:
    slug = f"failed-{secrets.token_hex(4)}"
    response = await http.post("/", params={"defer": slug, "status": "422"})
    assert response.status_code == 422
    assert await stored_slugs(sessionmaker, slug) == set()


async def test_a_session_outside_a_request_defers_nothing(sessionmaker: Sessionmaker) -> None:
    async with sessionmaker() as session:
        assert sql.deferred(session) is None
