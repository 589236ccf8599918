"""Fixtures for SDK conformance: one live Kassa server per session, one org per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import separate_database
from tests.support.live_server import LiveKassa, OrgCredentials, create_organization, start_kassa


@pytest.fixture(scope="session")
def live_kassa(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKassa]:
    """Its own database: the server's worker must not take other tests' jobs."""
    with separate_database(database_url, "compat") as own_url:
        yield from _serve(own_url, tmp_path_factory)


def _serve(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKassa]:
    server = start_kassa(
        database_url,
        env={"KASSA_DATA_DIR": str(tmp_path_factory.mktemp("kassa-data"))},
        log_dir=tmp_path_factory.mktemp("kassa-logs"),
        worker=True,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def organization(live_kassa: LiveKassa, request: pytest.FixtureRequest) -> OrgCredentials:
    """A fresh organization and token, so each driver sees only its own data."""
    name = f"Compat {request.node.name} {uuid.uuid4().hex[:8]}"
    return create_organization(live_kassa.database_url, name, env=live_kassa.env)
