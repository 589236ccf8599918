"""Alembic environment. Kassa runs migrations through ``kassa.migrate``, which hands over an
open connection (holding the migration advisory lock) in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import kassa.models
from kassa.models.base import Base

assert kassa.models  # every table registered on Base.metadata

config = context.config


def include_object(
    object_: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """pgqueuer owns its tables (created by migration 0002 from its own DDL): autogenerate must
    not propose dropping them."""
    return not (
        type_ == "table"
        and reflected
        and compare_to is None
        and (name or "").startswith("pgqueuer")
    )


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `kassa migrate`.")
run_migrations(connection)
