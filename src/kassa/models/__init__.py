"""ORM models. Importing this package registers every table on ``Base.metadata``."""

from kassa.models.access_token import OrganizationAccessToken
from kassa.models.base import Base
from kassa.models.customer import Customer
from kassa.models.idempotency import IdempotencyKey
from kassa.models.organization import Organization
from kassa.models.product import Product, ProductPrice

__all__ = [
    "Base",
    "Customer",
    "IdempotencyKey",
    "Organization",
    "OrganizationAccessToken",
    "Product",
    "ProductPrice",
]
