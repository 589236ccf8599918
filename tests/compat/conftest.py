"""Fixtures for SDK conformance: one live Kassa server per session, one org per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from support.live_server import LiveKassa, OrgCredentials, create_organization, start_kassa


# TRIAL-ONLY fallback until tests/conftest.py provides `database_url`; remove before finishing.
@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("KASSA_TEST_DATABASE_URL")
    if not url:
        pytest.skip("KASSA_TEST_DATABASE_URL is not set")
    return url


@pytest.fixture(scope="session")
def live_kassa(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKassa]:
    server = start_kassa(database_url, log_dir=tmp_path_factory.mktemp("kassa-logs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def organization(live_kassa: LiveKassa, request: pytest.FixtureRequest) -> OrgCredentials:
    """A fresh organization and token, so each driver sees only its own data."""
    name = f"Compat {request.node.name} {uuid.uuid4().hex[:8]}"
    return create_organization(live_kassa.database_url, name, env=live_kassa.env)
