from __future__ import annotations

from kassa.models import Product as ProductModel
from kassa.product.schemas import Product, ProductPriceCustom, ProductPriceFixed


def product_schema(product: ProductModel, *, is_deletable: bool) -> Product:
    """The API form of a product: only its active prices are listed. ``is_deletable``: nothing
    refers to it (``ProductRepository.referenced``)."""
    prices: list[ProductPriceFixed | ProductPriceCustom] = []
    for price in product.prices:
        if price.is_archived:
            continue
        if price.amount_type == "custom":
            prices.append(ProductPriceCustom.model_validate(price))
        else:
            prices.append(ProductPriceFixed.model_validate(price))
    return Product.model_validate(
        {
            "id": product.id,
            "created_at": product.created_at,
            "modified_at": product.modified_at,
            "trial_interval": product.trial_interval,
            "trial_interval_count": product.trial_interval_count,
            "name": product.name,
            "description": product.description,
            "visibility": product.visibility,
            "recurring_interval": product.recurring_interval,
            "recurring_interval_count": product.recurring_interval_count,
            "is_recurring": product.is_recurring,
            "is_archived": product.is_archived,
            "organization_id": product.organization_id,
            "user_metadata": product.user_metadata,
            "is_deletable": is_deletable,
            "prices": prices,
        }
    )
