from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, StringConstraints

from kassa.kit.schemas import IDSchema, InputSchema, Schema, TimestampedSchema


class WebhookFormat(StrEnum):
    raw = "raw"
    discord = "discord"
    slack = "slack"


class WebhookEventType(StrEnum):
    checkout_created = "checkout.created"
    checkout_updated = "checkout.updated"
    checkout_expired = "checkout.expired"
    customer_created = "customer.created"
    customer_updated = "customer.updated"
    customer_deleted = "customer.deleted"
    customer_state_changed = "customer.state_changed"
    customer_seat_assigned = "customer_seat.assigned"
    customer_seat_claimed = "customer_seat.claimed"
    customer_seat_revoked = "customer_seat.revoked"
    member_created = "member.created"
    member_updated = "member.updated"
    member_deleted = "member.deleted"
    order_created = "order.created"
    order_updated = "order.updated"
    order_paid = "order.paid"
    order_refunded = "order.refunded"
    subscription_created = "subscription.created"
    subscription_updated = "subscription.updated"
    subscription_active = "subscription.active"
    subscription_canceled = "subscription.canceled"
    subscription_uncanceled = "subscription.uncanceled"
    subscription_cycled = "subscription.cycled"
    subscription_revoked = "subscription.revoked"
    subscription_past_due = "subscription.past_due"
    subscription_paused = "subscription.paused"
    subscription_resumed = "subscription.resumed"
    refund_created = "refund.created"
    refund_updated = "refund.updated"
    product_created = "product.created"
    product_updated = "product.updated"
    discount_created = "discount.created"
    discount_updated = "discount.updated"
    discount_deleted = "discount.deleted"
    benefit_created = "benefit.created"
    benefit_updated = "benefit.updated"
    benefit_grant_created = "benefit_grant.created"
    benefit_grant_cycled = "benefit_grant.cycled"
    benefit_grant_updated = "benefit_grant.updated"
    benefit_grant_revoked = "benefit_grant.revoked"
    organization_updated = "organization.updated"


EndpointURL = Annotated[AnyHttpUrl, Field(description="Where events are POSTed.")]
EndpointName = Annotated[str, StringConstraints(max_length=256)]
EventList = Annotated[list[WebhookEventType], Field(max_length=len(WebhookEventType))]


class WebhookEndpointCreate(InputSchema):
    url: EndpointURL
    name: EndpointName | None = None
    format: WebhookFormat
    events: EventList
    organization_id: uuid.UUID | None = None


class WebhookEndpointUpdate(InputSchema):
    url: EndpointURL | None = None
    name: EndpointName | None = None
    format: WebhookFormat | None = None
    events: EventList | None = None
    enabled: bool | None = None


class WebhookEndpoint(IDSchema, TimestampedSchema):
    url: str
    name: str | None
    format: WebhookFormat
    secret: str
    organization_id: uuid.UUID
    events: list[WebhookEventType]
    enabled: bool


class WebhookEvent(IDSchema, TimestampedSchema):
    last_http_code: int | None
    succeeded: bool | None
    skipped: bool
    payload: str | None
    type: WebhookEventType
    is_archived: bool


class WebhookDelivery(IDSchema, TimestampedSchema):
    succeeded: bool
    http_code: int | None
    response: str | None
    webhook_event: WebhookEvent


HttpCodeClass = Literal["2xx", "3xx", "4xx", "5xx"]


class WebhookDeliveryFilters(Schema):
    endpoint_id: list[uuid.UUID] | None = None
    start_timestamp: datetime | None = None
    end_timestamp: datetime | None = None
    succeeded: bool | None = None
    query: str | None = None
    http_code_class: HttpCodeClass | None = None
    event_type: list[WebhookEventType] | None = None
