"""Validate JSON against the Polar contract's component schemas (JSON Schema 2020-12)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# The contract lives in the shared folder beside the repository (override: KASSA_CONTRACT).
CONTRACT_PATH = Path(
    os.environ.get(
        "KASSA_CONTRACT",
        Path(__file__).resolve().parents[2] / "shared" / "reference" / "polar-openapi-2026-10.json",
    )
)
CONTRACT_URI = "https://kassa.test/polar-openapi-2026-10.json"


@cache
def contract() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(CONTRACT_PATH.read_text())
    return document


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(contract(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(CONTRACT_URI, resource)
    return registry


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


def properties(schema_name: str) -> set[str]:
    """The property names a schema allows; for a ``oneOf``/``anyOf`` of refs, their union."""
    schema = contract()["components"]["schemas"][schema_name]
    names = set(schema.get("properties", {}))
    for variant in schema.get("oneOf", []) + schema.get("anyOf", []):
        ref = variant.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            names |= properties(ref.rsplit("/", 1)[1])
    return names


def extra_fields(schema_name: str, instance: dict[str, Any]) -> set[str]:
    """Fields of ``instance`` that the contract's schema does not describe."""
    return set(instance) - properties(schema_name)


def assert_conforms(schema_name: str, instance: object) -> None:
    errors = schema_errors(schema_name, instance)
    assert not errors, f"Response does not match the contract's {schema_name}:\n" + "\n".join(
        errors
    )
