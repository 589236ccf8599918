"""Query-string filters shared by list endpoints."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request

from kassa.kit.errors import ValidationFailed

_METADATA_PARAM = re.compile(r"^metadata\[([^\[\]]{1,40})\]$")


def _metadata_query(request: Request) -> dict[str, list[str]]:
    """``?metadata[key]=value`` (deepObject style); repeating a key matches any of the values."""
    filters: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if not name.startswith("metadata"):
            continue
        match = _METADATA_PARAM.match(name)
        if match is None:
            raise ValidationFailed.field(
                ("query", name), "Use metadata[key]=value to filter on metadata."
            )
        filters.setdefault(match.group(1), []).append(value)
    return filters


MetadataQuery = Annotated[dict[str, list[str]], Depends(_metadata_query)]
