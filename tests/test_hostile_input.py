"""Every operation Kassa serves, fed hostile input: never a 5xx, whatever the body or path.

Bodies are generated from each operation's own request schema in Kassa's OpenAPI: every field
in turn set to values of the wrong type, out-of-range numbers, strings PostgreSQL cannot store,
oversized collections; plus non-JSON and non-object bodies. Path parameters get unknown ids and
garbage. A 4xx is the only acceptable answer to any of it.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import Tenant

JSON = dict[str, Any]
HOSTILE_VALUES: list[Any] = [
    None,
    "",
    "x" * 5000,
    "\u0000",
    "\ud800",
    -1,
    0,
    2**63,
    -(2**63) - 1,
    1.5,
    True,
    [],
    [None] * 200,
    {},
    {"nested": {"deeper": [1, {"x": None}]}},
    "00000000-0000-4000-8000-000000000000",
    "not-a-uuid",
    "2026-13-45T99:99:99Z",
]
RAW_BODIES = [b"", b"{", b"[]", b"null", b'"text"', b"\xff\xfe", b'{"a": NaN}']
PATH_VALUES = ["00000000-0000-4000-8000-000000000000", "not-an-id", "%00", "a" * 300]


def _resolve(document: JSON, schema: JSON) -> JSON:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _fields(document: JSON, schema: JSON) -> set[str]:
    schema = _resolve(document, schema)
    names = set(schema.get("properties", {}))
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            names |= _fields(document, option)
    return names


def _operations(document: JSON) -> list[tuple[str, str, set[str]]]:
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "patch", "put", "delete"}:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            found.append((path, method, _fields(document, schema) if schema else set()))
    return found


def _paths(path: str) -> list[str]:
    if "{" not in path:
        return [path]
    return [re.sub(r"\{[^}]+\}", value, path) for value in PATH_VALUES]


async def test_no_operation_answers_5xx(
    client: httpx.AsyncClient, tenant: Tenant, app: FastAPI
) -> None:
    failures: list[str] = []
    checked = 0
    for path, method, fields in _operations(app.openapi()):
        for concrete in _paths(path):
            requests: list[dict[str, Any]] = [{}]
            if method in {"post", "patch", "put"}:
                requests = [{"content": raw} for raw in RAW_BODIES]
                for field in sorted(fields):
                    requests += [
                        {"content": json.dumps({field: value}).encode()} for value in HOSTILE_VALUES
                    ]
            for extra in requests:
                response = await client.request(
                    method.upper(),
                    concrete,
                    headers=tenant.headers | {"content-type": "application/json"},
                    **extra,
                )
                checked += 1
                if response.status_code >= 500:
                    failures.append(
                        f"{method.upper()} {concrete} {extra!r:.120} -> {response.status_code}"
                    )
    assert checked > 1000
    assert not failures, "\n".join(failures[:40])


async def test_no_public_page_answers_5xx(client: httpx.AsyncClient) -> None:
    secret = f"kassa_c_{uuid.uuid4().hex}"
    for path in (
        f"/checkout/{secret}",
        f"/checkout/{secret}/confirmation",
        "/checkout/%00",
        f"/checkout-links/{secret}",
        "/checkout-links/x?customer_email=%00",
        "/sandbox/authenticate/sbx_pi_unknown",
    ):
        response = await client.get(path)
        assert response.status_code < 500, (path, response.status_code)
    response = await client.post("/sandbox/authenticate/sbx_pi_unknown", data={"outcome": "x"})
    assert response.status_code < 500
