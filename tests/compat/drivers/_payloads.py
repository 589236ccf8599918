"""Request bodies shared by both SDK generations, so they exercise the same data."""

from __future__ import annotations

from typing import Any

FIXED_PRICE: dict[str, Any] = {
    "amount_type": "fixed",
    "price_amount": 1500,
    "price_currency": "usd",
}
CUSTOM_PRICE: dict[str, Any] = {
    "amount_type": "custom",
    "price_currency": "usd",
    "minimum_amount": 500,
    "maximum_amount": 10000,
    "preset_amount": 1200,
}
PRODUCT_METADATA: dict[str, str | int | bool] = {"source": "compat", "seats": 3, "beta": True}
UPDATED_METADATA: dict[str, str | int | bool] = {"source": "compat", "tier": "gold"}
CUSTOMER_METADATA: dict[str, str | int | bool] = {"plan": "team", "seats": 5, "vip": False}
BILLING_ADDRESS: dict[str, str] = {
    "line1": "1 Rue de Rivoli",
    "postal_code": "75001",
    "city": "Paris",
    "country": "FR",
}
UPDATED_BILLING_ADDRESS: dict[str, str] = {
    "line1": "Unter den Linden 1",
    "postal_code": "10117",
    "city": "Berlin",
    "country": "DE",
}
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def one_time_product(run_id: str) -> dict[str, Any]:
    return {
        "name": f"Compat one-time {run_id}",
        "description": "A one-time purchase created by the SDK conformance driver.",
        "prices": [dict(FIXED_PRICE)],
        "metadata": dict(PRODUCT_METADATA),
    }


def recurring_custom_product(run_id: str) -> dict[str, Any]:
    return {
        "name": f"Compat monthly {run_id}",
        "description": None,
        "recurring_interval": "month",
        "prices": [dict(CUSTOM_PRICE)],
    }


def customer(run_id: str) -> dict[str, Any]:
    return {
        "email": f"compat-{run_id}@example.com",
        "name": f"Compat Customer {run_id}",
        "external_id": f"ext-{run_id}",
        "metadata": dict(CUSTOMER_METADATA),
        "billing_address": dict(BILLING_ADDRESS),
    }


def second_customer(run_id: str) -> dict[str, Any]:
    return {"email": f"compat-second-{run_id}@example.com"}
