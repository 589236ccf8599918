from __future__ import annotations

from kassa.models import WebhookDelivery as WebhookDeliveryModel
from kassa.models import WebhookEvent as WebhookEventModel
from kassa.webhook.schemas import WebhookDelivery, WebhookEvent


def event_schema(event: WebhookEventModel) -> WebhookEvent:
    return WebhookEvent.model_validate(
        {
            "id": event.id,
            "created_at": event.created_at,
            "modified_at": event.modified_at,
            "last_http_code": event.last_http_code,
            "succeeded": {"succeeded": True, "failed": False}.get(event.status),
            "skipped": event.status == "skipped",
            "payload": event.payload,
            "type": event.type,
            "is_archived": event.is_archived,
        }
    )


def delivery_schema(delivery: WebhookDeliveryModel, event: WebhookEventModel) -> WebhookDelivery:
    return WebhookDelivery.model_validate(
        {
            "id": delivery.id,
            "created_at": delivery.created_at,
            "modified_at": delivery.modified_at,
            "succeeded": delivery.succeeded,
            "http_code": delivery.http_code,
            "response": delivery.response if delivery.response is not None else delivery.error,
            "webhook_event": event_schema(event),
        }
    )
