from __future__ import annotations

from kassa.kit.errors import KassaError


class NotOpenCheckout(KassaError):
    status_code = 403
    error = "NotOpenCheckout"

    def __init__(self, status: str) -> None:
        super().__init__(f"This checkout is {status}; it cannot be changed or confirmed.")


class ExpiredCheckoutError(KassaError):
    status_code = 410
    error = "ExpiredCheckoutError"

    def __init__(self) -> None:
        super().__init__("This checkout session has expired.")


class PaymentError(KassaError):
    """A declined payment (400). The attempt is recorded: the request commits anyway."""

    status_code = 400
    error = "PaymentError"
    commit = True


class CheckoutLocked(KassaError):
    """Another request is confirming this checkout right now."""

    status_code = 409
    error = "CheckoutLocked"

    def __init__(self) -> None:
        super().__init__("This checkout session is being processed.")


class PaymentUnavailable(KassaError):
    """The processor could not take the payment (unreachable, refused the request itself).
    Nothing is kept: the customer can simply try again."""

    status_code = 400
    error = "PaymentError"
