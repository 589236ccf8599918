"""Chat formats: Discord and Slack incoming webhooks get a message they can display."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from kassa.webhook.formats import render
from kassa.webhook.schemas import WebhookEventType, WebhookFormat

OCCURRED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PRODUCT = {"id": "p1", "name": "Pro plan", "is_archived": False, "prices": []}


def test_raw_is_the_standard_payload() -> None:
    body = json.loads(
        render(WebhookFormat.raw, WebhookEventType.product_created, OCCURRED, PRODUCT)
    )
    assert body == {
        "type": "product.created",
        "timestamp": "2026-11-25T12:00:00Z",
        "api_version": "2026-10",
        "data": PRODUCT,
    }


def test_discord_message() -> None:
    body = json.loads(
        render(WebhookFormat.discord, WebhookEventType.product_created, OCCURRED, PRODUCT)
    )
    assert body["content"] == "product.created: Pro plan (p1)"
    [embed] = body["embeds"]
    assert embed["title"] == "product.created"
    assert {"name": "name", "value": "Pro plan"} in embed["fields"]
    assert len(body["content"]) <= 2000


def test_slack_message() -> None:
    customer = {"id": "c1", "email": "ada@example.com", "name": "Ada"}
    body = json.loads(
        render(WebhookFormat.slack, WebhookEventType.customer_created, OCCURRED, customer)
    )
    assert body["text"] == "customer.created: ada@example.com (c1)"
    assert body["blocks"][0]["text"]["text"] == "*customer.created*"
    assert {"type": "mrkdwn", "text": "*email*\nada@example.com"} in body["blocks"][1]["fields"]
