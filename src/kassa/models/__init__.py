"""ORM models. Importing this package registers every table on ``Base.metadata``."""

from kassa.models.access_token import OrganizationAccessToken
from kassa.models.base import Base
from kassa.models.customer import Customer
from kassa.models.idempotency import IdempotencyKey
from kassa.models.job import JobPeriodicRun
from kassa.models.organization import Organization
from kassa.models.product import Product, ProductPrice
from kassa.models.webhook import (
    OrganizationNotice,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "Base",
    "Customer",
    "IdempotencyKey",
    "JobPeriodicRun",
    "Organization",
    "OrganizationAccessToken",
    "OrganizationNotice",
    "Product",
    "ProductPrice",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
