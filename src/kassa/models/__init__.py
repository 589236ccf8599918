"""ORM models. Importing this package registers every table on ``Base.metadata``."""

from kassa.models.access_token import OrganizationAccessToken
from kassa.models.base import Base
from kassa.models.checkout import Checkout, CheckoutLink
from kassa.models.customer import Customer
from kassa.models.discount import Discount, DiscountProduct, DiscountRedemption
from kassa.models.idempotency import IdempotencyKey
from kassa.models.job import JobPeriodicRun
from kassa.models.order import Order, OrderItem
from kassa.models.organization import Organization
from kassa.models.payment import Payment, ProcessorEvent
from kassa.models.product import Product, ProductPrice
from kassa.models.webhook import (
    OrganizationNotice,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "Base",
    "Checkout",
    "CheckoutLink",
    "Customer",
    "Discount",
    "DiscountProduct",
    "DiscountRedemption",
    "IdempotencyKey",
    "JobPeriodicRun",
    "Order",
    "OrderItem",
    "Organization",
    "OrganizationAccessToken",
    "OrganizationNotice",
    "Payment",
    "ProcessorEvent",
    "Product",
    "ProductPrice",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
