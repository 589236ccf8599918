"""Standard Webhooks signatures that every verifier accepts.

The reference ``standardwebhooks`` library keys the HMAC with the base64-decoded part of the
secret after ``whsec_``; ``polar-sdk`` 0.32 keys it with the UTF-8 bytes of the whole secret
string. Each message is signed with both keys, and ``webhook-signature`` carries both ``v1,``
values separated by a space, so each verifier finds its match.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_header(secret: str, message_id: str, sent_at: datetime, body: str) -> str:
    decoded_key = Webhook(secret)
    raw_key = Webhook(secret.encode())
    return " ".join(
        signer.sign(msg_id=message_id, timestamp=sent_at, data=body)
        for signer in (decoded_key, raw_key)
    )
