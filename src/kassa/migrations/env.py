"""Alembic environment. Kassa runs migrations through ``kassa.migrate``, which hands over an
open connection (holding the migration advisory lock) in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import kassa.models
from kassa.models.base import Base

assert kassa.models  # every table registered on Base.metadata

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `kassa migrate`.")
run_migrations(connection)
