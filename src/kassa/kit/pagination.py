"""``?page=&limit=`` in, ``{"items", "pagination": {"total_count", "max_page"}}`` out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

MAX_LIMIT = 100
# Keeps (page - 1) * limit far inside PostgreSQL's int8 OFFSET.
MAX_PAGE = 1_000_000_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PaginationParams:
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _pagination(
    page: Annotated[int, Query(gt=0, le=MAX_PAGE, description="Page number, defaults to 1.")] = 1,
    limit: Annotated[
        int,
        Query(gt=0, le=MAX_LIMIT, description="Size of a page, defaults to 10. Maximum is 100."),
    ] = 10,
) -> PaginationParams:
    return PaginationParams(page=page, limit=limit)


PaginationQuery = Annotated[PaginationParams, Depends(_pagination)]


class Pagination(BaseModel):
    total_count: int
    max_page: int


class ListResource(BaseModel, Generic[T]):
    items: list[T]
    pagination: Pagination

    @classmethod
    def build(
        cls, items: Sequence[T], total_count: int, params: PaginationParams
    ) -> ListResource[T]:
        return cls(
            items=list(items),
            pagination=Pagination(
                total_count=total_count, max_page=math.ceil(total_count / params.limit)
            ),
        )
