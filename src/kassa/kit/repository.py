"""Repository base: all SQL lives in repositories, and every tenant query starts from
``scoped()`` so that organization isolation cannot be forgotten."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from kassa.kit.errors import ResourceNotFound
from kassa.kit.pagination import PaginationParams


class TenantModel(Protocol):
    id: Any
    organization_id: Any


M = TypeVar("M", bound=TenantModel)


class TenantRepository(Generic[M]):
    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def scoped(self, organization_id: uuid.UUID) -> Select[M]:
        """Every query for tenant rows starts here."""
        statement: Select[M] = select(self.model).where(
            self.model.organization_id == organization_id
        )
        return statement

    async def get(
        self, organization_id: uuid.UUID, id: uuid.UUID, *, for_update: bool = False
    ) -> M | None:
        statement = self.scoped(organization_id).where(self.model.id == id)
        if for_update:
            statement = statement.with_for_update()
        result: M | None = (await self.session.execute(statement)).scalar_one_or_none()
        return result

    async def get_or_404(
        self, organization_id: uuid.UUID, id: uuid.UUID, *, for_update: bool = False
    ) -> M:
        """The row, or the contract's 404 (also when it belongs to another organization)."""
        row = await self.get(organization_id, id, for_update=for_update)
        if row is None:
            raise ResourceNotFound()
        return row

    async def paginate(
        self, statement: Select[M], params: PaginationParams
    ) -> tuple[Sequence[M], int]:
        total = await self.session.scalar(
            select(func.count()).select_from(statement.order_by(None).subquery())
        )
        page = await self.session.execute(statement.limit(params.limit).offset(params.offset))
        return page.scalars().unique().all(), int(total or 0)

    async def add(self, row: M) -> M:
        self.session.add(row)
        await self.session.flush()
        return row


def apply_sorting(
    statement: Select[M],
    sorting: Sequence[str],
    columns: dict[str, InstrumentedAttribute[Any] | Any],
    tiebreaker: InstrumentedAttribute[Any],
) -> Select[M]:
    """Order by ``name`` / ``-name`` criteria (validated by the endpoint's enum)."""
    for criterion in sorting:
        descending = criterion.startswith("-")
        column = columns[criterion.lstrip("-")]
        statement = statement.order_by(column.desc() if descending else column.asc())
    return statement.order_by(tiebreaker)


def metadata_filter(column: Any, metadata: dict[str, list[str]]) -> list[Any]:
    """``?metadata[key]=value`` filters: a row matches when its value for each key is one of the
    given values (compared as text, so ``metadata[count]=3`` matches the integer 3)."""
    return [column[key].astext.in_(values) for key, values in metadata.items()]


def contains_text(text: str, *columns: Any) -> ColumnElement[bool]:
    """``?query=`` search: any of ``columns`` contains ``text``, case-insensitively, with
    ``%``, ``_`` and ``\\`` in it matched literally."""
    escaped = text.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    pattern = f"%{escaped}%"
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))
