"""Bodies sent to an endpoint, by its format: the Standard Webhooks JSON payload (``raw``), or a
chat message for Discord or Slack incoming webhooks."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from kassa.webhook.schemas import WebhookFormat

API_VERSION = "2026-10"

# Which field of each resource names it in a chat message.
_TITLE_FIELDS = {"product": ("name",), "customer": ("email", "name")}


def _summary(event_type: str, data: dict[str, Any]) -> str:
    resource = event_type.split(".", 1)[0]
    title = next((data[f] for f in _TITLE_FIELDS.get(resource, ()) if data.get(f)), None)
    label = f" {title}" if title else ""
    return f"{event_type}:{label} ({data.get('id', '')})"


def render(
    format_: WebhookFormat, event_type: str, occurred_at: datetime, data: dict[str, Any]
) -> str:
    timestamp = occurred_at.isoformat().replace("+00:00", "Z")
    if format_ == WebhookFormat.raw:
        # polar-sdk 1.0 requires api_version beside the contract's type/timestamp/data.
        payload: dict[str, Any] = {
            "type": event_type,
            "timestamp": timestamp,
            "api_version": API_VERSION,
            "data": data,
        }
    elif format_ == WebhookFormat.discord:
        payload = {
            "content": _summary(event_type, data),
            "embeds": [
                {
                    "title": event_type,
                    "timestamp": timestamp,
                    "fields": _fields(data),
                }
            ],
        }
    else:
        payload = {
            "text": _summary(event_type, data),
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*{event_type}*"}},
                {
                    "type": "section",
                    "fields": [
                        {"type": "mrkdwn", "text": f"*{f['name']}*\n{f['value']}"}
                        for f in _fields(data)
                    ],
                },
            ],
        }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _fields(data: dict[str, Any]) -> list[dict[str, str]]:
    keys = ("id", "name", "email", "external_id", "is_archived")
    return [{"name": key, "value": str(data[key])} for key in keys if data.get(key) is not None]
