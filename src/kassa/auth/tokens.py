"""Organization access tokens: ``kassa_oat_`` + 43 url-safe characters (256 bits).

Only HMAC-SHA256(secret key, token) is stored, so a database dump reveals no usable token and
lookups stay a single indexed equality.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "kassa_oat_"


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str, secret_key: bytes) -> bytes:
    return hmac.new(secret_key, token.encode(), hashlib.sha256).digest()


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and 20 <= len(value) <= 200
