"""Plain SQL on the session's connection: same transaction as the ORM, rows as mapped values."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.kit import sql
from kassa.kit.db import session_scope
from kassa.models import Organization, Product
from tests.kit.organizations import new_organization, store, stored_slugs


async def test_plain_statements_run_in_the_session_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    kept, dropped = new_organization(), new_organization()
    async with sessionmaker() as session:
        await sql.insert(session, [dropped])  # the session's very first statement
        session.add(Organization(name="ORM twin", slug=dropped.slug + "-orm"))
        await session.flush()
        await session.rollback()
    async with session_scope(sessionmaker) as session:
        await sql.insert(session, [kept])
        session.add(Organization(name="ORM twin", slug=kept.slug + "-orm"))

    found = await stored_slugs(
        sessionmaker, kept.slug, kept.slug + "-orm", dropped.slug, dropped.slug + "-orm"
    )
    assert found == {kept.slug, kept.slug + "-orm"}


async def test_insert_fills_defaults_and_instance_reads_them_back(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = new_organization(settings={"theme": {"dark": True}, "nothing": None})
    second = new_organization(email="b@example.com")
    async with session_scope(sessionmaker) as session:
        await sql.insert(session, [first, second])

    assert first.id is not None and first.created_at is not None
    assert first.status == "active" and first.modified_at is None
    async with sessionmaker() as session:
        connection = await sql.connection(session)
        rows = await connection.fetch(
            f"SELECT {sql.columns(Organization, 'o', 'org_')} FROM organizations o "
            "WHERE o.id = ANY($1) ORDER BY o.slug",
            [first.id, second.id],
        )
    read = sorted((sql.instance(Organization, row, "org_") for row in rows), key=lambda o: o.slug)
    expected = sorted([first, second], key=lambda o: o.slug)
    for got, want in zip(read, expected, strict=True):
        assert (got.id, got.slug, got.email, got.settings, got.created_at) == (
            want.id,
            want.slug,
            want.email,
            want.settings,
            want.created_at,
        )


async def test_update_writes_the_named_attributes_and_modified_at(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    organization = new_organization()
    await store(sessionmaker, organization)
    organization.name = "Renamed"
    organization.email = "not-written@example.com"
    organization.settings = {"k": [1, 2]}
    async with session_scope(sessionmaker) as session:
        await sql.update(session, organization, ("name", "settings"))

    assert organization.modified_at is not None
    async with sessionmaker() as session:
        stored = await session.get(Organization, organization.id)
    assert stored is not None
    assert (stored.name, stored.email, stored.settings) == ("Renamed", None, {"k": [1, 2]})
    assert stored.modified_at == organization.modified_at


async def _version(sessionmaker: async_sessionmaker[AsyncSession], id: uuid.UUID) -> int:
    async with sessionmaker() as session:
        raw = await sql.connection(session)
        return int(await raw.fetchval("SELECT xmin FROM organizations WHERE id = $1", id))


async def test_an_optimistic_update_fails_whole_when_the_row_changed_since_it_was_read(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    organization = new_organization()
    await store(sessionmaker, organization)
    read = await _version(sessionmaker, organization.id)
    organization.name = "First"
    async with session_scope(sessionmaker) as session:
        await sql.update(session, organization, ("name",), read_version=read)
    assert await _version(sessionmaker, organization.id) != read

    # Written again with the version read before the first write: refused, and so is the
    # insert in the same statement.
    alongside = new_organization()
    organization.name = "Second"
    writes = sql.Writes()
    writes.insert([alongside])
    async with sessionmaker() as session:
        await sql.update(session, organization, ("name",), writes, read_version=read)
        with pytest.raises(asyncpg.SerializationError, match="organizations changed"):
            await writes.run(session)
    async with sessionmaker() as session:
        stored = await session.get(Organization, organization.id)
    assert stored is not None and stored.name == "First"
    assert await stored_slugs(sessionmaker, alongside.slug) == set()


async def test_writes_run_as_one_statement_and_constraints_hold_at_its_end(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed = new_organization()
    await store(sessionmaker, renamed)
    many = [new_organization(settings={"n": n, "none": None}) for n in range(3)]
    one = new_organization(id=uuid.uuid4(), email="one@example.com")
    product = Product(organization_id=one.id, name="Alongside", user_metadata={})
    writes = sql.Writes()
    writes.insert(many)
    # The product references an organization inserted by the same statement.
    writes.insert([product])
    writes.insert([one])
    writes.add("UPDATE organizations SET name = $2 WHERE id = $1", renamed.id, "Renamed")

    statements: list[str] = []
    execute = asyncpg.Connection.execute

    async def counted(self: asyncpg.Connection[Any], query: str, *args: object) -> str:
        statements.append(query)
        return await execute(self, query, *args)

    async with session_scope(sessionmaker) as session:
        await sql.connection(session)
        monkeypatch.setattr(asyncpg.Connection, "execute", counted)
        await writes.run(session)
        monkeypatch.undo()
    assert len(statements) == 1 and statements[0].startswith("WITH write_0 AS (")
    assert writes.statements == []

    async with sessionmaker() as session:
        rows = await (await sql.connection(session)).fetch(
            "SELECT id, name, settings, email FROM organizations WHERE id = ANY($1)",
            [o.id for o in (*many, one, renamed)],
        )
        found = {row["id"]: row for row in rows}
        assert [found[o.id]["settings"] for o in many] == [{"n": n, "none": None} for n in range(3)]
        assert found[one.id]["email"] == "one@example.com"
        assert found[renamed.id]["name"] == "Renamed"
        assert await session.get(Product, product.id) is not None


async def test_writes_that_fail_leave_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first, taken = new_organization(), new_organization()
    await store(sessionmaker, taken)
    twin = new_organization()
    twin.slug = taken.slug
    writes = sql.Writes()
    writes.insert([first])
    writes.insert([twin])
    with pytest.raises(asyncpg.UniqueViolationError):
        async with session_scope(sessionmaker) as session:
            await writes.run(session)
    assert await stored_slugs(sessionmaker, first.slug) == set()


async def test_writes_ride_along_with_an_insert_that_reports_its_conflict(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    renamed, taken = new_organization(), new_organization()
    await store(sessionmaker, renamed, taken)
    fresh, twin = new_organization(), new_organization()
    twin.slug = taken.slug
    async with session_scope(sessionmaker) as session:
        writes = sql.Writes()
        renamed.name = "Written with the insert"
        await sql.update(session, renamed, ["name"], writes)
        assert await sql.insert_unless_conflict(session, fresh, on=["slug"], writes=writes)
        other = sql.Writes()
        other.add("UPDATE organizations SET name = $2 WHERE id = $1", taken.id, "Still written")
        assert not await sql.insert_unless_conflict(session, twin, on=["slug"], writes=other)
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Organization.slug, Organization.name).where(
                Organization.slug.in_([renamed.slug, taken.slug, fresh.slug])
            )
        )
        names = {slug: name for slug, name in rows}
    assert names == {
        renamed.slug: "Written with the insert",
        taken.slug: "Still written",
        fresh.slug: fresh.name,
    }


async def test_a_statement_with_its_own_with_queries_goes_last_and_keeps_them(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    renamed = new_organization()
    await store(sessionmaker, renamed)
    added = new_organization()
    writes = sql.Writes()
    writes.add(
        "WITH changed AS (UPDATE organizations SET name = $2 WHERE id = $1 RETURNING id)"
        " SELECT count(*) FROM changed",
        renamed.id,
        "Renamed by a WITH query",
    )
    writes.insert([added])  # added after it, sent before it
    async with sessionmaker() as session:
        with pytest.raises(ValueError, match="goes last"):  # refused before anything is added
            await writes.fetchval(session, "SELECT 1")
    async with session_scope(sessionmaker) as session:
        await writes.run(session)
    async with sessionmaker() as session:
        stored = await session.get(Organization, renamed.id)
        assert stored is not None and stored.name == "Renamed by a WITH query"
    assert await stored_slugs(sessionmaker, added.slug) == {added.slug}

    two = sql.Writes()
    two.add("WITH a AS (SELECT 1) SELECT * FROM a")
    two.add("WITH b AS (SELECT 2) SELECT * FROM b")
    two.insert([new_organization()])
    with pytest.raises(ValueError, match="only one"):
        async with session_scope(sessionmaker) as session:
            await two.run(session)


async def test_upsert_inserts_or_sets_only_the_named_attributes(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = new_organization(email="first@example.com")
    async with session_scope(sessionmaker) as session:
        writes = sql.Writes()
        writes.upsert(first, on=["slug"], keys=["name"])
        await writes.run(session)
    again = Organization(name="Upserted", slug=first.slug, email="ignored@example.com")
    async with session_scope(sessionmaker) as session:
        writes = sql.Writes()
        writes.upsert(again, on=["slug"], keys=["name"])
        writes.insert_unless_conflict(Organization(name="Skipped", slug=first.slug), on=["slug"])
        await writes.run(session)
    async with sessionmaker() as session:
        rows = (
            await session.execute(select(Organization).where(Organization.slug == first.slug))
        ).scalars()
        [stored] = list(rows)
    assert stored.id == first.id  # the row inserted first, updated
    assert stored.name == "Upserted" and stored.email == "first@example.com"
    assert stored.modified_at is not None  # set, as every update sets it


async def test_generic_plans_last_as_long_as_the_transaction(
    one_connection: async_sessionmaker[AsyncSession],
) -> None:
    mode = text("SELECT current_setting('plan_cache_mode'), pg_backend_pid()")
    async with session_scope(one_connection) as session:
        await sql.plan_generically(session)
        inside = (await session.execute(mode)).one()
    async with one_connection() as session:  # the pool's one connection again
        after = (await session.execute(mode)).one()

    assert inside[0] == "force_generic_plan"
    assert after == ("auto", inside[1])
