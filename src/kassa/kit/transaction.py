"""The request transaction: one session per request, committed only when the response is a
success, and before a single byte of that response is sent.

A pure ASGI middleware buffers the response. If the status is below 400 the session commits,
then the response goes out; otherwise it rolls back, unless the error says the work done so
far must be kept (``KassaError.commit``: a declined payment attempt is recorded). A failed
commit never reaches the client as a success: it is answered 409 (a conflicting concurrent
write) or 503 (database unavailable).
"""

from __future__ import annotations

import structlog
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.kit import sql
from kassa.kit.asgi import send_json

log = structlog.get_logger(__name__)

_STATE_KEY = "kassa.transaction"
# How a commit (with the deferred writes just before it) fails without a bug behind it.
_CONFLICTS: tuple[type[Exception], ...] = (IntegrityError, *sql.CONFLICTS)
_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    DBAPIError,
    OSError,
    *sql.UNAVAILABLE,
)


class RequestTransaction:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self.commit_anyway = False

    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessionmaker()
            sql.defer_writes(self._session)
        return self._session

    @property
    def started(self) -> bool:
        return self._session is not None

    async def finish(self, *, commit: bool) -> None:
        if self._session is None:
            return
        try:
            if commit:
                await sql.run_deferred(self._session)
                await self._session.commit()
            else:
                await self._session.rollback()
        finally:
            await self._session.close()
            self._session = None


def request_transaction(scope: Scope) -> RequestTransaction:
    transaction = scope.get("state", {}).get(_STATE_KEY)
    if transaction is None:
        raise RuntimeError("TransactionMiddleware is not installed")
    assert isinstance(transaction, RequestTransaction)
    return transaction


class TransactionMiddleware:
    def __init__(self, app: ASGIApp, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.app = app
        self.sessionmaker = sessionmaker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        transaction = RequestTransaction(self.sessionmaker)
        scope.setdefault("state", {})[_STATE_KEY] = transaction
        start: Message | None = None
        body: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        try:
            await self.app(scope, receive, buffer)
        except BaseException:
            await transaction.finish(commit=False)
            raise
        assert start is not None, "the application sent no response"
        try:
            await transaction.finish(commit=start["status"] < 400 or transaction.commit_anyway)
        except _CONFLICTS:
            log.warning("commit_conflict", exc_info=True)
            await send_json(
                send, 409, {"error": "Conflict", "detail": "A concurrent change conflicted; retry."}
            )
            return
        except _UNAVAILABLE:
            log.error("commit_failed", exc_info=True)
            await send_json(
                send,
                503,
                {"error": "ServiceUnavailable", "detail": "The database is unavailable."},
            )
            return
        await send(start)
        await send({"type": "http.response.body", "body": b"".join(body)})
