"""Checkouts and orders through both generations of the official Python SDK."""

from __future__ import annotations

import json

import pytest

from tests.compat.sdk_envs import GENERATIONS, run_driver
from tests.support.live_server import LiveKassa, OrgCredentials

pytestmark = [pytest.mark.compat, pytest.mark.slow]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_checkouts_and_orders(
    generation: str, live_kassa: LiveKassa, organization: OrgCredentials
) -> None:
    run = run_driver(
        generation,
        "checkouts_orders",
        {"KASSA_URL": live_kassa.base_url, "KASSA_TOKEN": organization.token},
    )
    if run.returncode != 0:
        pytest.fail(f"{run.report()}\n--- server log tail ---\n{live_kassa.log_tail(30)}", False)
    summary = json.loads(run.stdout)
    assert summary["ok"] is True
    assert summary["order"]
