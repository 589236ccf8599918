"""The values both SDK generations send, so they exercise the same data.

Each driver builds its own SDK's typed request objects from these.
"""

from __future__ import annotations

from dataclasses import dataclass

FIXED_AMOUNT = 1500
CUSTOM_MINIMUM = 500
CUSTOM_MAXIMUM = 10_000
CUSTOM_PRESET = 1200
NEGATIVE_AMOUNT = -5
SHORT_NAME = "x"
INVALID_EMAIL = "not-an-email"
MISSING_ID = "00000000-0000-4000-8000-000000000000"

ONE_TIME_DESCRIPTION = "A one-time purchase created by the SDK conformance driver."
UPDATED_DESCRIPTION = "Updated description"
PRODUCT_METADATA: dict[str, str | int | float | bool] = {
    "source": "compat",
    "seats": 3,
    "beta": True,
}
UPDATED_METADATA: dict[str, str | int | float | bool] = {"source": "compat", "tier": "gold"}
CUSTOMER_METADATA: dict[str, str | int | float | bool] = {"plan": "team", "seats": 5, "vip": False}
UPDATED_CUSTOMER_METADATA: dict[str, str | int | float | bool] = {"plan": "enterprise"}
UPDATED_CUSTOMER_NAME = "Renamed Customer"


@dataclass(frozen=True)
class Names:
    """Per-run names, so runs against a shared server never collide."""

    run_id: str

    @property
    def one_time(self) -> str:
        return f"Compat one-time {self.run_id}"

    @property
    def monthly(self) -> str:
        return f"Compat monthly {self.run_id}"

    @property
    def renamed(self) -> str:
        return f"Compat renamed {self.run_id}"

    @property
    def email(self) -> str:
        return f"compat-{self.run_id}@example.com"

    @property
    def second_email(self) -> str:
        return f"compat-second-{self.run_id}@example.com"

    @property
    def customer(self) -> str:
        return f"Compat Customer {self.run_id}"

    @property
    def external_id(self) -> str:
        return f"ext-{self.run_id}"

    @property
    def missing_external_id(self) -> str:
        return f"missing-{self.run_id}"
