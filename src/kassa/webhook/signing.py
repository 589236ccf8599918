"""Standard Webhooks signatures that every verifier accepts.

The reference ``standardwebhooks`` library keys the HMAC with the base64-decoded part of the
secret after ``whsec_``; ``polar-sdk`` 0.32 keys it with the UTF-8 bytes of the whole secret
string. Each message is signed with both keys, and ``webhook-signature`` carries both ``v1,``
values separated by a space, so each verifier finds its match.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from functools import lru_cache

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@lru_cache(maxsize=4096)
def _keys(secret: str) -> tuple[bytes, bytes]:
    """The two HMAC keys of a secret: as ``standardwebhooks.Webhook`` derives it (base64 after
    the prefix, padding added), and its raw UTF-8 bytes."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded + "=="), secret.encode()


def signature_header(secret: str, message_id: str, sent_at: datetime, body: str) -> str:
    """``v1,<sig>`` under each key, as ``standardwebhooks.Webhook.sign`` computes it."""
    signed = f"{message_id}.{int(sent_at.timestamp())}.{body}".encode()
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in _keys(secret)
    )
