"""Base classes and shared field types for API schemas."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MetadataValue = Annotated[str, StringConstraints(min_length=1, max_length=500)] | int | float | bool
MetadataInput = Annotated[
    dict[MetadataKey, MetadataValue],
    Field(
        max_length=50,
        description="Key-value object to store additional information. Up to 50 keys; keys up "
        "to 40 characters; values are strings (up to 500 characters), integers, floats or "
        "booleans.",
    ),
]
MetadataOutput = dict[str, str | int | float | bool]


def invalid(loc: str | tuple[str | int, ...], message: str, value: Any = None) -> ValidationError:
    """An error for a model validator to raise that names the offending field (pydantic
    prefixes it with the model's own location), instead of pointing at the whole body."""
    return ValidationError.from_exception_data(
        "invalid",
        [
            InitErrorDetails(
                type=PydanticCustomError("value_error", message),
                loc=(loc,) if isinstance(loc, str) else loc,
                input=value,
            )
        ],
    )


def _unstorable(value: str | float) -> bool:
    """NUL characters, lone surrogates and non-finite numbers: JSON parsers let them through,
    PostgreSQL cannot store them."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _unstorable_path(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where an unstorable value hides in request data."""
    if isinstance(value, str | float):
        return path if _unstorable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unstorable_path(key, path) or _unstorable_path(item, (*path, str(key)))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable_path(item, (*path, index))
            if found is not None:
                return found
    return None


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


class InputSchema(Schema):
    """Request bodies: unknown fields are ignored, strings are stripped and NUL-free."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        path = _unstorable_path(value)
        if path is not None:
            raise invalid(
                path, "must not contain NUL characters, lone surrogates or non-finite numbers"
            )
        return value


class TimestampedSchema(Schema):
    created_at: datetime = Field(description="Creation timestamp of the object.")
    modified_at: datetime | None = Field(description="Last modification timestamp of the object.")


class IDSchema(Schema):
    id: uuid.UUID = Field(description="The ID of the object.")
