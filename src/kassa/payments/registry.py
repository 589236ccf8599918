"""Which processor handles a checkout: ``KASSA_PAYMENT_PROCESSOR`` (``sandbox`` by default)."""

from __future__ import annotations

from kassa.config import Settings, get_settings
from kassa.payments.processor import PaymentProcessor
from kassa.payments.sandbox import SandboxProcessor

PROCESSORS = ("sandbox", "stripe")


def processor_for(name: str, settings: Settings | None = None) -> PaymentProcessor:
    settings = settings or get_settings()
    if name == "sandbox":
        return SandboxProcessor()
    if name == "stripe":
        from kassa.payments.stripe import StripeProcessor

        return StripeProcessor(settings)
    raise ValueError(f"unknown payment processor {name!r}")
