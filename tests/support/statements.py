"""Recording the statements asyncpg sends, to check how many round trips a path makes."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest


def record_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement asyncpg sends until ``monkeypatch.undo()``, BEGIN and COMMIT included."""
    statements: list[str] = []
    extended, simple = asyncpg.Connection._execute, asyncpg.Connection.execute

    async def with_arguments(
        self: asyncpg.Connection[Any], query: str, *args: Any, **kw: Any
    ) -> Any:
        statements.append(query)
        return await extended(self, query, *args, **kw)

    async def execute(self: asyncpg.Connection[Any], query: str, *args: Any, **kw: Any) -> Any:
        if not args:
            statements.append(query)  # a simple query (BEGIN, COMMIT), not through _execute
        return await simple(self, query, *args, **kw)

    monkeypatch.setattr(asyncpg.Connection, "_execute", with_arguments)
    monkeypatch.setattr(asyncpg.Connection, "execute", execute)
    return statements
