"""Plain SQL on the session's own asyncpg connection, inside the session's transaction.

Hot paths (authentication, checkout creation, confirmation and settlement) run a few short
statements per request or job. Through SQLAlchemy each costs about four times the CPU of the
statement itself through asyncpg (statement construction, compilation cache, result
processing, the greenlet bridge), so their repositories write SQL with ``$n`` parameters and
run it here. Everything else keeps the ORM; both share one connection and one transaction,
so a hot-path write and an ORM write commit or roll back together.

Rows read this way become mapped instances with ``instance``: plain values, never added to
the session, so changing one changes nothing until its repository writes it (``insert``,
``update``, whose statements derive from the mapping). Never hand such an instance to the ORM
(``session.add``, a relationship of a persistent object): it would be inserted again.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy import ARRAY, Column, inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.kit.db import transaction_cache

T = TypeVar("T")

# How plain SQL's statements fail when the database is not at fault: a conflicting concurrent
# write, or the database out of reach.
CONFLICTS: tuple[type[Exception], ...] = (
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock
)
UNAVAILABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, statement timeout
    asyncpg.exceptions.InsufficientResourcesError,
)

_CONNECTION = "sql.connection"
_DEFERRED = "sql.deferred"


async def connection(session: AsyncSession) -> asyncpg.Connection[Any]:
    """The asyncpg connection under ``session``, with the session's transaction begun.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement; a raw statement
    before that would autocommit. The transaction is begun here through the adapter itself,
    so SQLAlchemy commits or rolls back exactly what ran on the connection.
    """
    raw = transaction_cache(session, _CONNECTION).get(_CONNECTION)
    if raw is not None:
        return cast("asyncpg.Connection[Any]", raw)
    adapted = await _adapted(session)
    if adapted._transaction is None:
        async with adapted._execute_mutex:
            if adapted._transaction is None:
                await adapted._start_transaction()
    raw = cast("asyncpg.Connection[Any]", adapted.driver_connection)
    if not raw.is_in_transaction():
        raise RuntimeError("plain SQL needs a session in a transaction, not in autocommit mode")
    # Cached only now: ``session.connection()`` began the session transaction whose end drops
    # the cache, so the next transaction asks again.
    transaction_cache(session, _CONNECTION)[_CONNECTION] = raw
    return raw


async def reading_connection(session: AsyncSession) -> asyncpg.Connection[Any]:
    """The asyncpg connection under ``session`` for a read that locks nothing: in the session's
    transaction once one was begun; before that, the read runs on its own (autocommit), as
    under READ COMMITTED it would see the same. The first statement that needs the transaction
    begins it (``connection``, the ORM)."""
    raw = transaction_cache(session, _CONNECTION).get(_CONNECTION)
    if raw is not None:
        return cast("asyncpg.Connection[Any]", raw)
    return cast("asyncpg.Connection[Any]", (await _adapted(session)).driver_connection)


async def plan_generically(session: AsyncSession) -> None:
    """Plan the rest of the session's transaction with generic plans: for a batch, whose
    statements take arrays of ids as long as the batch.

    PostgreSQL plans a prepared statement for its values until a generic plan looks no
    dearer. Without the values it reckons with arrays of ten, so for smaller batches it plans
    every execution anew, and the settlement and delivery batches' statements took as long to
    plan as to run. Their plans do not depend on the values: id lookups and unnest joins.
    """
    await (await connection(session)).execute("SET LOCAL plan_cache_mode = force_generic_plan")


async def _adapted(session: AsyncSession) -> Any:
    """SQLAlchemy's adapter of the session's asyncpg connection (it tracks the transaction)."""
    pooled = await (await session.connection()).get_raw_connection()
    return pooled.dbapi_connection


def defer_writes(session: AsyncSession) -> None:
    """Let code running in this session leave writes for ``run_deferred`` (``deferred``);
    whoever calls this must call ``run_deferred`` before committing."""
    session.info[_DEFERRED] = Writes()


def deferred(session: AsyncSession) -> Writes | None:
    """The writes this session runs last, just before it commits, if it defers writes: for a
    new row that nothing later in the transaction reads, changes or references. None when the
    session does not defer them (then write at once)."""
    writes = session.info.get(_DEFERRED)
    return writes if isinstance(writes, Writes) else None


async def run_deferred(session: AsyncSession) -> None:
    """Run the deferred writes, as the session's last (``run_last``)."""
    writes = deferred(session)
    if writes is not None:
        await run_last(session, writes)


async def run_last(session: AsyncSession, writes: Writes) -> None:
    """Run ``writes`` as the last of the session's transaction. When nothing else was written
    (no transaction begun, nothing pending in the ORM), their one statement runs on its own,
    which commits it: a request that reads, then writes one statement, makes no BEGIN and no
    COMMIT. Nothing may write after them: it would not commit with them."""
    if not writes.statements:
        return
    raw = await reading_connection(session)
    if raw.is_in_transaction() or session.new or session.dirty or session.deleted:
        raw = await connection(session)  # in the transaction, begun if only the ORM has work
    await writes.send(raw)


def jsonb(value: object) -> str | None:
    """A ``jsonb`` parameter: the session's connections take JSON text (SQLAlchemy's codec)."""
    return None if value is None else json.dumps(value)


@dataclass(frozen=True)
class _Table:
    """A mapped class's table as plain SQL sees it; ``keys`` are attribute names in column
    order (``user_metadata`` for the column ``metadata``)."""

    name: str
    manager: Any  # the class's instrumentation: builds instances without running __init__
    columns: tuple[Column[Any], ...]
    keys: tuple[str, ...]
    key_of: dict[str, str]  # column name → attribute name
    column_of: dict[str, str]  # attribute name → column name
    jsonb: frozenset[str]  # attribute names of jsonb columns
    onupdate: tuple[tuple[str, Any], ...]  # attribute, default of columns every update sets
    insert: str
    insert_arrays: str | None  # the rows as one array per column; None with array columns


_TABLES: dict[type[Any], _Table] = {}
_UPDATES: dict[tuple[type[Any], tuple[str, ...], bool], str] = {}
_Upsert = tuple[str, tuple[Any, ...]]  # the statement, the defaults of its touched columns
_UPSERTS: dict[tuple[type[Any], tuple[str, ...], tuple[str, ...]], _Upsert] = {}


def _table(model: type[Any]) -> _Table:
    table = _TABLES.get(model)
    if table is None:
        mapper = inspect(model)
        # Identity columns are the database's to fill.
        attributes = mapper.column_attrs
        pairs = [(a.columns[0], a.key) for a in attributes if a.columns[0].identity is None]
        names = ", ".join(column.name for column, _ in pairs)
        places = ", ".join(f"${n}" for n in range(1, len(pairs) + 1))
        table = _TABLES[model] = _Table(
            name=mapper.local_table.name,
            manager=mapper.class_manager,
            columns=tuple(column for column, _ in pairs),
            keys=tuple(key for _, key in pairs),
            key_of={column.name: key for column, key in pairs},
            column_of={key: column.name for column, key in pairs},
            jsonb=frozenset(key for column, key in pairs if isinstance(column.type, JSONB)),
            onupdate=tuple((key, column.onupdate) for column, key in pairs if column.onupdate),
            insert=f"INSERT INTO {mapper.local_table.name} ({names}) VALUES ({places})",  # noqa: S608
            insert_arrays=_insert_arrays(mapper.local_table.name, [c for c, _ in pairs]),
        )
    return table


def _insert_arrays(name: str, columns: Sequence[Column[Any]]) -> str | None:
    if any(isinstance(column.type, ARRAY) for column in columns):
        return None  # unnest would flatten them
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    arrays = ", ".join(
        f"${n}::{column.type.compile(dialect=dialect)}[]" for n, column in enumerate(columns, 1)
    )
    names = ", ".join(column.name for column in columns)
    return f"INSERT INTO {name} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608


def keys(model: type[Any]) -> tuple[str, ...]:
    """The attribute names of ``model``'s columns (but identity columns), in column order."""
    return _table(model).keys


def columns(model: type[Any], alias: str, prefix: str = "") -> str:
    """``alias.col AS prefixcol, ...`` for every column of ``model``'s table."""
    return ", ".join(f"{alias}.{c.name} AS {prefix}{c.name}" for c in _table(model).columns)


def instance(model: type[T], row: asyncpg.Record, prefix: str = "") -> T:
    """A mapped instance holding ``row``'s columns (those named ``prefix`` + column name when
    a join's columns are prefixed); not attached to any session."""
    table = _table(model)
    key_of = table.key_of
    if prefix:
        values = {key: row[prefix + name] for name, key in key_of.items()}
    else:
        values = {key_of[name]: value for name, value in row.items() if name in key_of}
    return _built(model, table, values)


def value(model: type[T], **attributes: object) -> T:
    """A new mapped instance holding ``attributes`` (columns or loaded relationships), built
    as ``instance`` builds one: for ``insert``, never for the session."""
    return _built(model, _table(model), attributes)


def _built(model: type[T], table: _Table, attributes: dict[str, Any]) -> T:
    # As the ORM's own loading does: an instrumented instance whose attributes are filled in
    # directly, a tenth of the cost of calling the constructor with them.
    built: T = table.manager.new_instance()
    built.__dict__.update(attributes)
    return built


def _parameter(table: _Table, key: str, value: object) -> object:
    return jsonb(value) if key in table.jsonb else value


def _default(column: Column[Any]) -> object:
    default: Any = column.default
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


def _insert_parameters(table: _Table, row: object) -> list[object]:
    """The row's values in column order. Columns it never set get their default, set on the
    row too (as a flush would), so the caller holds what was inserted."""
    state = row.__dict__
    for column, key in zip(table.columns, table.keys, strict=True):
        if key not in state:
            setattr(row, key, _default(column))
    return [_parameter(table, key, state[key]) for key in table.keys]


async def insert(
    session: AsyncSession, rows: Sequence[object], writes: Writes | None = None
) -> None:
    """Insert new instances of one mapped class (every column) in one statement, or with
    ``writes`` when they run."""
    async with writing(session, writes) as batch:
        batch.insert(rows)


@contextlib.asynccontextmanager
async def writing(session: AsyncSession, writes: Writes | None) -> AsyncIterator[Writes]:
    """``writes`` to add to; without them, new ``Writes`` that run as the block ends."""
    if writes is not None:
        yield writes
        return
    now = Writes()
    yield now
    await now.run(session)


_PLACEHOLDER = re.compile(r"\$(\d+)")
_LEADING_WITH = re.compile(r"\s*WITH\s", re.IGNORECASE)


@dataclass
class Writes:
    """Statements that change rows and return nothing, sent as one statement when they run:
    each but the last becomes a data-modifying ``WITH`` query of it.

    One statement means one snapshot: a statement here sees none of the others' changes, so
    none may read what another writes, nor two change the same row. Foreign keys and other
    constraints are checked at the end of the statement, after all of them (an order item
    may reference an order inserted alongside). Parameters are ``$n``; no statement may
    contain a ``$`` of its own (a literal, a dollar quote).

    One statement may bring ``WITH`` queries of its own (not ``RECURSIVE``), as pgqueuer's
    enqueue does: it goes last, its queries joining the combined ``WITH`` list after the others
    (data-modifying ``WITH`` queries are allowed only at the top level).
    """

    statements: list[tuple[str, Sequence[object]]] = field(default_factory=list)

    def add(self, statement: str, *arguments: object) -> None:
        self.statements.append((statement, arguments))

    def insert(self, rows: Sequence[object]) -> None:
        """Insert new instances of one mapped class: many as one array per column."""
        if not rows:
            return
        table = _table(type(rows[0]))
        parameters = [_insert_parameters(table, row) for row in rows]
        if len(parameters) == 1 or table.insert_arrays is None:
            for row_parameters in parameters:
                self.add(table.insert, *row_parameters)
        else:
            self.add(
                table.insert_arrays, *(list(column) for column in zip(*parameters, strict=True))
            )

    def insert_unless_conflict(self, row: object, on: Sequence[str] = ()) -> None:
        """Insert a new instance unless that violates a unique constraint (then nothing): the
        one over the columns ``on``, or with none given any of the table's."""
        table = _table(type(row))
        self.add(_unless_conflict(table, on), *_insert_parameters(table, row))

    def upsert(self, row: Any, on: Sequence[str], keys: Sequence[str]) -> None:
        """Insert a new instance, or where its columns ``on`` match a row, set that row's
        attributes ``keys`` (and the columns every update sets) to the instance's."""
        model: type[Any] = type(row)
        table = _table(model)
        statement, touched = _upsert(model, tuple(on), tuple(keys))
        # The columns every update sets take their update value only where the row exists.
        self.add(statement, *_insert_parameters(table, row), *(t.arg(None) for t in touched))

    async def run(self, session: AsyncSession) -> None:
        """Send them in the session's transaction."""
        if self.statements:
            await self.send(await connection(session))

    async def send(self, raw: asyncpg.Connection[Any]) -> None:
        """Send them on ``raw`` as it stands (in a transaction or on their own)."""
        if self.statements:
            combined, arguments = self._combined()
            await raw.execute(combined, *arguments)

    async def fetchval(self, session: AsyncSession, statement: str, *arguments: object) -> Any:
        """Run these writes with ``statement`` as the last (which sees none of their changes
        either); its first column of its first row."""
        if any(_LEADING_WITH.match(earlier) for earlier, _ in self.statements):
            raise ValueError("a statement with WITH queries of its own goes last: use run()")
        self.add(statement, *arguments)
        combined, all_arguments = self._combined()
        return await (await connection(session)).fetchval(combined, *all_arguments)

    def _combined(self) -> tuple[str, list[object]]:
        plain: list[tuple[str, Sequence[object]]] = []
        led: list[tuple[str, Sequence[object]]] = []
        for entry in self.statements:
            (led if _LEADING_WITH.match(entry[0]) else plain).append(entry)
        self.statements = []
        if len(led) > 1:
            raise ValueError("only one statement of Writes may have WITH queries of its own")
        statements = plain + led
        combined = _combine(
            tuple(statement for statement, _ in statements),
            tuple(len(arguments) for _, arguments in statements),
        )
        return combined, [argument for _, arguments in statements for argument in arguments]


@functools.lru_cache(maxsize=256)
def _combine(statements: tuple[str, ...], counts: tuple[int, ...]) -> str:
    renumbered: list[str] = []
    offset = 0
    for statement, count in zip(statements, counts, strict=True):

        def shifted(match: re.Match[str], by: int = offset) -> str:
            return f"${int(match.group(1)) + by}"

        renumbered.append(_PLACEHOLDER.sub(shifted, statement))
        offset += count
    *earlier, last = renumbered
    if not earlier:
        return last
    queries = ",\n".join(f"write_{n} AS ({text})" for n, text in enumerate(earlier))
    led = _LEADING_WITH.match(last)
    if led is not None:
        return f"WITH {queries},\n{last[led.end() :]}"
    return f"WITH {queries}\n{last}"


async def write(
    session: AsyncSession, writes: Writes | None, statement: str, *arguments: object
) -> None:
    """Run a statement that returns nothing now, or with ``writes`` when they run."""
    if writes is None:
        await (await connection(session)).execute(statement, *arguments)
    else:
        writes.add(statement, *arguments)


async def insert_unless_conflict(
    session: AsyncSession, row: object, on: Sequence[str] = (), writes: Writes | None = None
) -> bool:
    """Insert a new instance unless that violates a unique constraint (then False): the one
    over the columns ``on``, or with none given any of the table's. With ``writes``, they run
    in the same statement."""
    table = _table(type(row))
    statement = f"{_unless_conflict(table, on)} RETURNING true"
    alongside = Writes() if writes is None else writes
    return bool(await alongside.fetchval(session, statement, *_insert_parameters(table, row)))


def _upsert(model: type[Any], on: tuple[str, ...], keys: tuple[str, ...]) -> _Upsert:
    """The statement, and the update defaults of the columns it sets besides ``keys`` (its
    parameters after the inserted row's)."""
    upsert = _UPSERTS.get((model, on, keys))
    if upsert is None:
        table = _table(model)
        column_of = table.column_of
        touched = [(key, onupdate) for key, onupdate in table.onupdate if key not in keys]
        assigned = [f"{column_of[key]} = EXCLUDED.{column_of[key]}" for key in keys]
        assigned += [
            f"{column_of[key]} = ${n}" for n, (key, _) in enumerate(touched, len(table.keys) + 1)
        ]
        statement = (
            f"{table.insert} ON CONFLICT ({', '.join(on)}) DO UPDATE SET {', '.join(assigned)}"
        )
        upsert = _UPSERTS[(model, on, keys)] = (statement, tuple(d for _, d in touched))
    return upsert


def _unless_conflict(table: _Table, on: Sequence[str]) -> str:
    target = f" ({', '.join(on)})" if on else ""
    return f"{table.insert} ON CONFLICT{target} DO NOTHING"


async def update(
    session: AsyncSession,
    row: Any,
    keys: Sequence[str],
    writes: Writes | None = None,
    *,
    read_version: int | None = None,
) -> None:
    """Write the given attributes of an instance to its row (by id), and set its columns that
    change on every update (``modified_at``); now, or with ``writes``.

    With ``read_version`` (the row's ``xmin`` when it was read), an optimistic write: if the
    row changed since, the statement fails (``asyncpg.SerializationError``), all of ``writes``
    with it. A concurrent writer holding the row makes it wait for that one's end first."""
    model = type(row)
    table = _table(model)
    for key, onupdate in table.onupdate:
        if key not in keys:
            setattr(row, key, onupdate.arg(None))
            keys = (*keys, key)
    guarded = read_version is not None
    statement = _UPDATES.get((model, tuple(keys), guarded))
    if statement is None:
        column_of = table.column_of
        assignments = ", ".join(f"{column_of[key]} = ${n}" for n, key in enumerate(keys, 2))
        statement = f"UPDATE {table.name} SET {assignments} WHERE id = $1"  # noqa: S608
        if guarded:
            # CASE: the function (which raises) is called only when the version differs.
            statement += (
                f" AND CASE WHEN xmin = ${len(keys) + 2}::xid THEN true "
                f"ELSE kassa_changed_since_read('{table.name}') END"
            )
        _UPDATES[(model, tuple(keys), guarded)] = statement
    values = [_parameter(table, key, getattr(row, key)) for key in keys]
    version = [read_version] if guarded else []
    await write(session, writes, statement, row.id, *values, *version)
