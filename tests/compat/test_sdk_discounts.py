"""Discounts through both generations of the official Python SDK."""

from __future__ import annotations

import json

import pytest

from tests.compat.sdk_envs import GENERATIONS, run_driver
from tests.support.live_server import LiveKassa, OrgCredentials

pytestmark = [pytest.mark.compat, pytest.mark.slow]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_discounts(generation: str, live_kassa: LiveKassa, organization: OrgCredentials) -> None:
    run = run_driver(
        generation,
        "discounts",
        {
            "KASSA_URL": live_kassa.base_url,
            "KASSA_TOKEN": organization.token,
            "KASSA_ORGANIZATION_ID": organization.organization_id,
        },
    )
    if run.returncode != 0:
        pytest.fail(f"{run.report()}\n--- server log tail ---\n{live_kassa.log_tail(30)}", False)
    summary = json.loads(run.stdout)
    assert summary["ok"] is True
    assert summary["generation"] == generation
    assert len(summary["discounts"]) == 2
    assert summary["checks"] > 30
