"""Calls of the public API that tests of every resource make."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Tenant

JSON = dict[str, Any]


async def list_page(
    client: httpx.AsyncClient, tenant: Tenant, path: str, params: Any = None
) -> JSON:
    """One page of a list endpoint (``path``, e.g. ``/v1/products/``), which must answer 200."""
    response = await client.get(path, params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    page: JSON = response.json()
    return page
