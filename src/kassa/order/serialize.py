from __future__ import annotations

from typing import Any

from kassa.customer.serialize import customer_schema
from kassa.discount.serialize import discount_base_data
from kassa.models import Order as OrderModel
from kassa.order.schemas import Order, OrderItem, OrderProduct
from kassa.product.serialize import product_schema


def _discount(order: OrderModel) -> dict[str, Any] | None:
    if order.discount is None:
        return None
    return discount_base_data(order.discount)


def order_schema(order: OrderModel) -> Order:
    product = order.product
    refundable = order.total_amount - order.tax_amount - order.refunded_amount
    return Order.model_validate(
        {
            "id": order.id,
            "created_at": order.created_at,
            "modified_at": order.modified_at,
            "status": order.status,
            "paid": order.paid,
            "subtotal_amount": order.subtotal_amount,
            "discount_amount": order.discount_amount,
            "net_amount": order.net_amount,
            "tax_amount": order.tax_amount,
            "total_amount": order.total_amount,
            "due_amount": 0 if order.paid else order.total_amount,
            "refunded_amount": order.refunded_amount,
            "refunded_tax_amount": order.refunded_tax_amount,
            "currency": order.currency,
            "billing_reason": order.billing_reason,
            "billing_name": order.billing_name,
            "billing_address": order.billing_address,
            "invoice_number": order.invoice_number,
            "seats": order.seats,
            "customer_id": order.customer_id,
            "product_id": order.product_id,
            "discount_id": order.discount_id,
            "checkout_id": order.checkout_id,
            "metadata": order.user_metadata,
            "custom_field_data": order.custom_field_data,
            "customer": customer_schema(order.customer),
            "product": None
            if product is None
            else OrderProduct.model_validate(
                product_schema(product, is_deletable=False).model_dump()
            ),
            "discount": _discount(order),
            "items": [OrderItem.model_validate(item) for item in order.items],
            "description": product.name if product is not None else "Order",
            "refundable_amount": max(refundable, 0) if order.paid else 0,
            "refundable_tax_amount": max(order.tax_amount - order.refunded_tax_amount, 0)
            if order.paid
            else 0,
        }
    )
