"""A merchant's history for a benchmark's database: copies of the sales already in it.

A benchmark that starts on empty tables measures query plans made for empty tables. The
server's prepared statements keep the plan PostgreSQL chose when a table had a few dozen
rows (a sequential scan is cheapest then), while the run grows it a hundredfold; production
tables are large, and autovacuum's ANALYZE makes the server plan again as they grow. So
after its warm-up a benchmark copies the warm-up's finished sales (customers, checkouts,
payments, orders, their processor and webhook events) until the tables hold a real merchant's
thousands, then VACUUMs and ANALYZEs them (which also makes every server connection plan
again) and checkpoints.

Copies keep the columns of their original, except ids and unique values: the n-th copy of a
row gets ``md5(id || n)`` as its id, and every reference to a copied table is mapped the same
way, so copies reference each other as their originals did. The last key of a unique index
(an email, a client secret, a processor's id) gets ``-n`` appended.
"""

from __future__ import annotations

import contextlib
from typing import Any

import asyncpg

# In reference order: a table's copies point at copies of the tables before it.
SALES = (
    "customers",
    "checkouts",
    "orders",
    "order_items",
    "payments",
    "processor_events",
    "webhook_events",
    "webhook_deliveries",
)
# Rows still in flight are not history: their copies would be worked on.
_FINISHED = {
    "checkouts": "status <> 'open'",
    "payments": "status NOT IN ('pending', 'requires_action')",
    "processor_events": "processed_at IS NOT NULL",
    "webhook_events": "status <> 'pending'",
}

_COLUMNS = r"""
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
    EXISTS (  -- the last key of a unique index (the one a copy varies)
        SELECT 1 FROM pg_index i
        WHERE i.indrelid = a.attrelid AND i.indisunique AND NOT i.indisprimary
            AND pg_get_indexdef(i.indexrelid, i.indnkeyatts, true) ~ ('\m' || a.attname || '\M')
    ) AS is_unique,
    (
        SELECT f.confrelid::regclass::text FROM pg_constraint f
        WHERE f.conrelid = a.attrelid AND f.contype = 'f' AND f.conkey = ARRAY[a.attnum]
    ) AS refers_to
FROM pg_attribute a
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
    AND a.attidentity = '' AND a.attgenerated = ''
ORDER BY a.attnum
"""


def _copied(column: asyncpg.Record) -> str:
    name, type_ = f'"{column["name"]}"', column["type"]
    if column["name"] == "id" or column["refers_to"] in SALES:
        return f"md5({name}::text || copy)::uuid"
    if column["is_unique"] and type_ != "uuid":
        return f"{name} || '-' || copy"
    return name


def _finished(table: str, columns: list[asyncpg.Record]) -> str:
    """The rows to copy: finished, and referring only to finished rows (which are copied)."""
    conditions = [_FINISHED.get(table, "true")]
    for column in columns:
        parent = column["refers_to"]
        if parent in _FINISHED:
            name = f'"{column["name"]}"'
            conditions.append(
                f"({name} IS NULL OR {name} IN (SELECT id FROM {parent} WHERE {_FINISHED[parent]}))"
            )
    return " AND ".join(conditions)


async def add_history(connection: asyncpg.Connection[Any], copies: int) -> int:
    """Add ``copies`` copies of every finished sale in the database; the checkouts it then
    holds."""
    for table in SALES:
        columns = await connection.fetch(_COLUMNS, table)
        names = ", ".join(f'"{column["name"]}"' for column in columns)
        values = ", ".join(_copied(column) for column in columns)
        await connection.execute(
            f"INSERT INTO {table} ({names}) SELECT {values} "
            f"FROM {table}, generate_series(1, $1) AS copy WHERE {_finished(table, columns)}",
            copies,
        )
    # Old sales are settled data: vacuumed (hint bits set, pages all-visible) and on disk, as
    # autovacuum and checkpoints leave them; else the measured run pays for the bulk copy.
    await connection.execute(f"VACUUM (ANALYZE) {', '.join(SALES)}")
    with contextlib.suppress(asyncpg.InsufficientPrivilegeError):  # superuser or pg_checkpoint
        await connection.execute("CHECKPOINT")
    return int(await connection.fetchval("SELECT count(*) FROM checkouts"))
