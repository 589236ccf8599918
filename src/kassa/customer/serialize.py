from __future__ import annotations

from kassa.customer.schemas import Customer
from kassa.models import Customer as CustomerModel


def customer_schema(customer: CustomerModel) -> Customer:
    tax_id = (
        (customer.tax_id, customer.tax_id_format)
        if customer.tax_id is not None and customer.tax_id_format is not None
        else None
    )
    return Customer.model_validate(
        {
            "id": customer.id,
            "created_at": customer.created_at,
            "modified_at": customer.modified_at,
            "metadata": customer.user_metadata,
            "external_id": customer.external_id,
            "email": customer.email,
            "email_verified": customer.email_verified,
            "type": customer.type,
            "name": customer.name,
            "billing_name": customer.billing_name,
            "billing_address": customer.billing_address,
            "tax_id": tax_id,
            "locale": customer.locale,
            "organization_id": customer.organization_id,
            "deleted_at": customer.deleted_at,
        }
    )
