"""pgqueuer's database objects under fixed names, and their DDL for migrations.

pgqueuer reads object names from ``PGQUEUER_*`` (and some bare legacy) environment variables.
Kassa pins every name so that the migration, the API process and the workers always agree,
whatever the environment holds.
"""

from __future__ import annotations

from pgqueuer.adapters.persistence import schema_ddl
from pgqueuer.adapters.persistence.qb import (
    QueryBuilderEnvironment,
    QueryQueueBuilder,
    QuerySchedulerBuilder,
)
from pgqueuer.domain.schema.declaration import target
from pgqueuer.domain.settings import DBSettings, Durability
from pgqueuer.domain.types import Channel

SETTINGS = DBSettings(
    prefix="",
    db_schema=None,
    channel=Channel("ch_pgqueuer"),
    function="fn_pgqueuer_changed",
    statistics_table="pgqueuer_statistics",
    queue_status_type="pgqueuer_status",
    queue_table="pgqueuer",
    queue_table_log="pgqueuer_log",
    trigger="tg_pgqueuer_changed",
    schedules_table="pgqueuer_schedules",
    # The queue and schedules are logged; the job log and statistics are not (migration 0008).
    durability=Durability.balanced,
)
QUEUE_TABLE = SETTINGS.queue_table
LOG_TABLE = SETTINGS.queue_table_log
STATISTICS_TABLE = SETTINGS.statistics_table

QBE = QueryBuilderEnvironment(SETTINGS)
QBS = QuerySchedulerBuilder(SETTINGS)


def queue_builder() -> QueryQueueBuilder:
    """A fresh builder: it caches rendered dequeue SQL, so give each consumer its own."""
    return QueryQueueBuilder(SETTINGS)


def install_statements() -> list[str]:
    """pgqueuer's own DDL for the installed release, one statement per item.

    ``schema_ddl.render_install`` joins the same pieces into one script; asyncpg prepares each
    statement, so the migration needs them one at a time.
    """
    schema = target(SETTINGS)
    return [
        *(schema_ddl.render_enum(entry, SETTINGS) for entry in schema.enums),
        *(schema_ddl.render_table(entry, SETTINGS) for entry in schema.tables),
        *(schema_ddl.render_index(entry, SETTINGS) for entry in schema.indexes),
        *(schema_ddl.render_function(entry, SETTINGS) for entry in schema.functions),
        *(schema_ddl.render_trigger(entry, SETTINGS) for entry in schema.triggers),
    ]


def uninstall_statements() -> list[str]:
    """pgqueuer's uninstall script: single-line ``DROP ... IF EXISTS`` statements."""
    return [line for line in schema_ddl.render_uninstall(SETTINGS).splitlines() if line.strip()]
