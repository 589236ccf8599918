"""Per-process caches of an organization's rarely changing rows, exact by version counters.

Every checkout reads its organization's catalog and webhook endpoints, which change rarely.
``organizations.catalog_version`` and ``organizations.webhooks_version`` are bumped by
triggers in the transaction of every such change (migration 0007). A request learns its
organization's counters from a row it reads anyway (its access token's, its checkout's, joined
to the organization): ``remember``. A cached copy is used only if it was read at exactly the
counter this transaction knows, so it is what a query would return at that moment; otherwise
the rows are read again, with the counter in the same statement, and cached under it.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.kit.db import transaction_cache

V = TypeVar("V")
Kind = Literal["catalog", "webhooks"]

_KNOWN = "versioned.known"


def remember(session: AsyncSession, organization_id: uuid.UUID, kind: Kind, version: int) -> None:
    """This transaction read ``organization_id``'s ``kind`` counter at ``version``."""
    transaction_cache(session, _KNOWN)[(organization_id, kind)] = version


def known(session: AsyncSession, organization_id: uuid.UUID, kind: Kind) -> int | None:
    version: int | None = transaction_cache(session, _KNOWN).get((organization_id, kind))
    return version


def remember_both(
    session: AsyncSession, organization_id: uuid.UUID, catalog: int, webhooks: int
) -> None:
    remember(session, organization_id, "catalog", catalog)
    remember(session, organization_id, "webhooks", webhooks)


def forget(session: AsyncSession, kind: Kind) -> None:
    """This transaction changed ``kind`` rows (the triggers bumped their counters): it must
    read them again rather than trust the counters it read before."""
    versions = transaction_cache(session, _KNOWN)
    for key in [key for key in versions if key[1] == kind]:
        del versions[key]


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    version: int
    value: V


class VersionedCache(Generic[V]):
    """Values per organization, each valid for one version of its ``kind`` counter; the
    least recently used organizations beyond ``max_organizations`` are dropped. Values are
    shared by every request of the process: never change one."""

    def __init__(self, kind: Kind, max_organizations: int = 1000) -> None:
        self.kind: Kind = kind
        self._max = max_organizations
        self._entries: OrderedDict[uuid.UUID, _Entry[V]] = OrderedDict()

    def get(self, session: AsyncSession, organization_id: uuid.UUID) -> V | None:
        """The cached value, if it is valid at the version this transaction knows."""
        version = known(session, organization_id, self.kind)
        entry = self._entries.get(organization_id)
        if version is None or entry is None or entry.version != version:
            return None
        self._entries.move_to_end(organization_id)
        return entry.value

    def at(self, organization_id: uuid.UUID, version: int) -> V | None:
        """The cached value if it was read at ``version``."""
        entry = self._entries.get(organization_id)
        return entry.value if entry is not None and entry.version == version else None

    def put(
        self, session: AsyncSession, organization_id: uuid.UUID, version: int, value: V
    ) -> None:
        """Cache ``value``, read at ``version`` (which this transaction now knows)."""
        remember(session, organization_id, self.kind, version)
        self._entries[organization_id] = _Entry(version, value)
        self._entries.move_to_end(organization_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
