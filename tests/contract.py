"""Validate JSON against the Polar contract's component schemas (JSON Schema 2020-12)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

CONTRACT_PATH = Path("/work/shared/reference/polar-openapi-2026-10.json")
CONTRACT_URI = "https://kassa.test/polar-openapi-2026-10.json"


@cache
def contract() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
    return document


@cache
def _registry() -> Registry[Any]:
    resource = Resource.from_contents(contract(), default_specification=DRAFT202012)
    return Registry().with_resource(CONTRACT_URI, resource)


@cache
def validator(schema_name: str) -> Draft202012Validator:
    """A validator for ``#/components/schemas/<schema_name>``; its refs resolve in the contract."""
    if schema_name not in contract()["components"]["schemas"]:
        raise KeyError(f"The contract has no schema {schema_name!r}")
    return Draft202012Validator(
        {"$ref": f"{CONTRACT_URI}#/components/schemas/{schema_name}"},
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def schema_errors(schema_name: str, instance: object) -> list[str]:
    """Every way ``instance`` breaks the contract's schema, as readable lines (empty if none)."""
    errors = sorted(validator(schema_name).iter_errors(instance), key=lambda e: list(e.path))
    lines = []
    for error in errors:
        lines.append(_shorten(f"{error.json_path}: {error.message}"))
        # oneOf/anyOf failures hide the real cause in their sub-errors.
        lines.extend(_shorten(f"    {sub.json_path}: {sub.message}") for sub in error.context or [])
    return lines


def _shorten(line: str, limit: int = 300) -> str:
    return line if len(line) <= limit else line[: limit - 3] + "..."


def assert_conforms(schema_name: str, instance: object) -> None:
    errors = schema_errors(schema_name, instance)
    assert not errors, f"Response does not match the contract's {schema_name}:\n" + "\n".join(
        errors
    )
