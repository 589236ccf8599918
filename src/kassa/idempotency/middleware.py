"""``Idempotency-Key`` on POST requests.

The same key with the same request replays the stored response; with a different request it is
refused (422); while the first request is still running, a second one gets 409. The stored
response is written in the same transaction as the change it reports (the request transaction,
see ``kit.transaction``), so a key is "used" if and only if its effect committed. Only 2xx
responses are kept: a failed request had no effect and may be retried with the same key.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.idempotency.repository import IdempotencyKeyRepository
from kassa.kit.asgi import send_json
from kassa.kit.clock import utc_now
from kassa.kit.transaction import request_transaction
from kassa.models import IdempotencyKey

HEADER = b"idempotency-key"
REPLAY_HEADER = b"idempotent-replayed"
_KEPT_HEADERS = {"content-type", "location"}
_MAX_KEY_LENGTH = 255


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, ttl: timedelta) -> None:
        self.app = app
        self.ttl = ttl

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not 1 <= len(key) <= _MAX_KEY_LENGTH or not key.isprintable():
            await send_json(send, 422, _header_error("must be 1 to 255 printable characters"))
            return

        body = await _read_body(receive)
        key_scope = _key_scope(scope, headers)
        fingerprint = _fingerprint(scope, body)
        repository = IdempotencyKeyRepository(request_transaction(scope).session())

        if not await repository.try_lock(_lock_key(key_scope, key)):
            await send_json(
                send,
                409,
                {
                    "error": "IdempotencyKeyInFlight",
                    "detail": "A request with this Idempotency-Key is still being processed.",
                },
            )
            return
        now = utc_now()
        stored = await repository.get_live(key_scope, key, now)
        if stored is not None:
            if stored.request_fingerprint != fingerprint:
                await send_json(
                    send, 422, _header_error("was already used with a different request")
                )
                return
            await _replay(send, stored)
            return

        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, _replay_body(body), capture)
        assert start is not None
        response_body = b"".join(chunks)
        if 200 <= start["status"] < 300:
            kept = {
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in start.get("headers", [])
                if name.decode("latin-1").lower() in _KEPT_HEADERS
            }
            await repository.store(
                IdempotencyKey(
                    scope=key_scope,
                    key=key,
                    request_fingerprint=fingerprint,
                    response_status=start["status"],
                    response_headers=kept,
                    response_body=response_body,
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
        await send(start)
        await send({"type": "http.response.body", "body": response_body})


def _key_scope(scope: Scope, headers: dict[bytes, bytes]) -> str:
    """Keys are per credential: two tokens (or two anonymous paths) never share a key space."""
    authorization = headers.get(b"authorization")
    owner = authorization if authorization else b"anonymous:" + scope["path"].encode()
    return hashlib.sha256(owner).hexdigest()


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope["query_string"], body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _lock_key(key_scope: str, key: str) -> int:
    digest = hashlib.sha256(f"idempotency:{key_scope}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay_body(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _replay(send: Send, stored: IdempotencyKey) -> None:
    headers = [
        (k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.response_headers.items()
    ]
    headers += [
        (b"content-length", str(len(stored.response_body)).encode()),
        (REPLAY_HEADER, b"true"),
    ]
    await send(
        {"type": "http.response.start", "status": stored.response_status, "headers": headers}
    )
    await send({"type": "http.response.body", "body": stored.response_body})


def _header_error(message: str) -> dict[str, object]:
    return {
        "detail": [
            {
                "loc": ["header", "Idempotency-Key"],
                "msg": f"Idempotency-Key {message}",
                "type": "idempotency_key",
            }
        ]
    }
