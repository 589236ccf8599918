"""The payment processor interface: how Kassa asks for money and learns how it went.

A processor never sees Kassa's database rows and Kassa never sees card data: the customer's
browser hands the card to the processor, which answers with a token (``confirmation_token``).
``create_payment`` charges that token once per ``idempotency_key``; the final outcome arrives
later as processor events through the inbox (``kassa.payments.inbox``), for every processor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from kassa.kit.sql import Writes

AttemptStatus = Literal["processing", "requires_action", "declined"]
SettlementStatus = Literal["succeeded", "failed"]


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    idempotency_key: str
    amount: int
    currency: str
    confirmation_token: str
    customer_id: uuid.UUID
    customer_email: str
    customer_name: str | None
    return_url: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PaymentAttempt:
    """The processor's immediate answer. ``processing``: the result comes as an event;
    ``requires_action``: the customer must visit ``next_action_url`` first; ``declined``: no
    money moved and none will (``decline_code`` and a message fit to show the customer)."""

    processor_id: str
    status: AttemptStatus
    card_brand: str | None = None
    card_last4: str | None = None
    next_action_url: str | None = None
    decline_code: str | None = None
    decline_message: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentSettlement:
    """A processor event reduced to what Kassa acts on."""

    processor_id: str
    status: SettlementStatus
    amount: int
    currency: str
    decline_code: str | None = None
    decline_message: str | None = None
    checkout_id: str | None = None  # from the payment's metadata, as Kassa sent it


class PaymentProcessor(Protocol):
    name: str
    # Whether ``create_payment`` calls a remote service. A confirm then holds the checkout's
    # lock across the call, so that concurrent confirms never reach the processor together;
    # without one it reads the checkout unlocked and writes it only if unchanged since.
    remote: bool

    async def create_payment(
        self, session: AsyncSession, request: PaymentRequest, writes: Writes | None = None
    ) -> PaymentAttempt:
        """Charge ``request.confirmation_token`` (at most once per idempotency key). ``session``
        is the caller's transaction; only the sandbox, which plays the remote side too, uses
        it to send its settlement event iff the payment is recorded (with ``writes``, in the
        statement they send)."""
        ...


class PaymentError(Exception):
    """The processor could not be reached or refused the request itself (not a decline)."""
