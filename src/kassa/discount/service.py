"""Discounts: what merchants manage through the API, and what checkouts call to apply one
(``find_for_checkout``, ``discount_amount``) and to count its use (``redeem``, ``release``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from kassa.discount.repository import DiscountRepository
from kassa.discount.schemas import (
    DiscountDuration,
    DiscountFixedCreate,
    DiscountListFilters,
    DiscountPercentageCreate,
    DiscountUpdate,
)
from kassa.discount.serialize import discount_schema
from kassa.kit.clock import utc_now
from kassa.kit.errors import ValidationFailed
from kassa.kit.pagination import PaginationParams
from kassa.models import Discount, Product
from kassa.webhook import service as webhook_service
from kassa.webhook.schemas import WebhookEventType

Loc = Sequence[str | int]

EXHAUSTED = "This discount has reached its maximum number of redemptions."
_REPEATING = str(DiscountDuration.repeating)


async def _emit(session: AsyncSession, event_type: WebhookEventType, discount: Discount) -> None:
    await webhook_service.emit(
        session,
        discount.organization_id,
        event_type,
        f"discount:{discount.id}",
        discount_schema(discount),
    )


# Checks shared by create and update; each names the offending field.


def _check_duration(duration: str, duration_in_months: int | None) -> None:
    if duration == _REPEATING and duration_in_months is None:
        raise ValidationFailed.field(
            ("body", "duration_in_months"), "Required when duration is repeating."
        )
    if duration != _REPEATING and duration_in_months is not None:
        raise ValidationFailed.field(
            ("body", "duration_in_months"),
            "Only repeating discounts have a duration_in_months; omit it.",
            duration_in_months,
        )


def _check_period(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and starts_at >= ends_at:
        raise ValidationFailed.field(
            ("body", "ends_at"), "ends_at must be after starts_at.", ends_at.isoformat()
        )


async def _check_code(
    session: AsyncSession,
    organization_id: uuid.UUID,
    code: str | None,
    *,
    except_id: uuid.UUID | None = None,
) -> None:
    repository = DiscountRepository(session)
    if code is not None and await repository.code_taken(organization_id, code, except_id=except_id):
        raise ValidationFailed.field(
            ("body", "code"), "A discount with this code already exists.", code
        )


async def _products(
    session: AsyncSession, organization_id: uuid.UUID, product_ids: Sequence[uuid.UUID]
) -> list[Product]:
    found = await DiscountRepository(session).products(organization_id, list(set(product_ids)))
    for index, product_id in enumerate(product_ids):
        if product_id not in found:
            raise ValidationFailed.field(
                ("body", "products", index), "Product not found.", str(product_id)
            )
    # In the order the relationship loads them, so every response lists them alike.
    return sorted(found.values(), key=lambda product: (product.created_at, product.id))


def _fixed_amounts(
    amount: int | None, currency: str | None, amounts: dict[str, int] | None, *, fallback: str
) -> tuple[dict[str, int], str] | None:
    """The amounts per currency and the main currency from ``amounts`` or the older
    ``amount`` + ``currency``; None when neither is given. ``currency`` is the one the client
    named, if any; ``fallback`` the main currency otherwise."""
    if amounts is not None:
        main = currency or (fallback if fallback in amounts else next(iter(amounts)))
        if main not in amounts:
            raise ValidationFailed.field(
                ("body", "currency"), f"amounts has no amount in {main.upper()}.", main
            )
        if amount is not None and amounts[main] != amount:
            raise ValidationFailed.field(
                ("body", "amount"),
                f"amount differs from amounts[{main!r}]; give amounts, or amount and currency.",
                amount,
            )
        return dict(amounts), main
    if amount is not None:
        main = currency or fallback
        return {main: amount}, main
    return None


# Managing discounts


async def create_discount(
    session: AsyncSession,
    organization_id: uuid.UUID,
    body: DiscountFixedCreate | DiscountPercentageCreate,
) -> Discount:
    _check_duration(str(body.duration), body.duration_in_months)
    _check_period(body.starts_at, body.ends_at)
    discount = Discount(
        organization_id=organization_id,
        name=body.name,
        type=body.type,
        duration=str(body.duration),
        duration_in_months=body.duration_in_months,
        code=body.code,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        max_redemptions=body.max_redemptions,
        max_redemptions_per_customer=body.max_redemptions_per_customer,
        redemptions_count=0,
        user_metadata=dict(body.metadata),
    )
    if isinstance(body, DiscountFixedCreate):
        named = body.currency if "currency" in body.model_fields_set else None
        resolved = _fixed_amounts(body.amount, named, body.amounts, fallback="usd")
        if resolved is None:
            raise ValidationFailed.field(
                ("body", "amount"), "A fixed discount needs amounts, or amount and currency."
            )
        discount.amounts, discount.currency = resolved
    else:
        discount.basis_points = body.basis_points
    await _check_code(session, organization_id, body.code)
    discount.products = await _products(session, organization_id, body.products or [])
    await DiscountRepository(session).add(discount)
    await _emit(session, WebhookEventType.discount_created, discount)
    return discount


async def list_discounts(
    session: AsyncSession,
    organization_id: uuid.UUID,
    filters: DiscountListFilters,
    sorting: Sequence[str],
    params: PaginationParams,
) -> tuple[Sequence[Discount], int]:
    repository = DiscountRepository(session)
    return await repository.paginate(repository.filtered(organization_id, filters, sorting), params)


async def get_discount(
    session: AsyncSession, organization_id: uuid.UUID, discount_id: uuid.UUID, *, lock: bool = False
) -> Discount:
    return await DiscountRepository(session).get_or_404(
        organization_id, discount_id, for_update=lock
    )


def _redeemed_refusal(field: str, value: object) -> ValidationFailed:
    return ValidationFailed.field(
        ("body", field),
        f"{field} cannot be changed: the discount has already been redeemed.",
        value,
    )


def _update_terms(discount: Discount, body: DiscountUpdate) -> None:
    """The amount taken off. Type and duration are fixed at creation; the amount or
    percentage too, once the discount has been redeemed."""
    if body.type is not None and str(body.type) != discount.type:
        raise ValidationFailed.field(
            ("body", "type"),
            "The type of a discount cannot be changed; create a new discount.",
            str(body.type),
        )
    if body.duration is not None and str(body.duration) != discount.duration:
        raise ValidationFailed.field(
            ("body", "duration"),
            "The duration of a discount cannot be changed; create a new discount.",
            str(body.duration),
        )
    if "duration_in_months" in body.model_fields_set:
        _check_duration(discount.duration, body.duration_in_months)
        discount.duration_in_months = body.duration_in_months
    if discount.type == "fixed":
        _update_fixed(discount, body)
    else:
        for field in ("amount", "currency", "amounts"):
            if getattr(body, field) is not None:
                raise ValidationFailed.field(
                    ("body", field), "Only fixed discounts have amounts.", None
                )
        if body.basis_points is not None and body.basis_points != discount.basis_points:
            if discount.redemptions_count > 0:
                raise _redeemed_refusal("basis_points", body.basis_points)
            discount.basis_points = body.basis_points


def _update_fixed(discount: Discount, body: DiscountUpdate) -> None:
    if body.basis_points is not None:
        raise ValidationFailed.field(
            ("body", "basis_points"), "Only percentage discounts have basis_points.", None
        )
    current = dict(discount.amounts or {})
    resolved = _fixed_amounts(
        body.amount, body.currency, body.amounts, fallback=discount.currency or "usd"
    )
    if resolved is None:
        if body.currency is None:
            return
        if body.currency not in current:
            raise ValidationFailed.field(
                ("body", "currency"),
                f"The discount has no amount in {body.currency.upper()}; give amount with it.",
                body.currency,
            )
        resolved = current, body.currency
    amounts, currency = resolved
    if amounts != current and discount.redemptions_count > 0:
        field = "amounts" if body.amounts is not None else "amount"
        raise _redeemed_refusal(field, getattr(body, field))
    discount.amounts, discount.currency = amounts, currency


async def update_discount(
    session: AsyncSession, discount: Discount, body: DiscountUpdate
) -> Discount:
    fields = body.model_fields_set
    _update_terms(discount, body)
    if body.name is not None:
        discount.name = body.name
    if "code" in fields:
        await _check_code(session, discount.organization_id, body.code, except_id=discount.id)
        discount.code = body.code
    starts_at = body.starts_at if "starts_at" in fields else discount.starts_at
    ends_at = body.ends_at if "ends_at" in fields else discount.ends_at
    _check_period(starts_at, ends_at)
    discount.starts_at, discount.ends_at = starts_at, ends_at
    if "max_redemptions" in fields:
        limit = body.max_redemptions
        if limit is not None and limit < discount.redemptions_count:
            raise ValidationFailed.field(
                ("body", "max_redemptions"),
                f"The discount has already been redeemed {discount.redemptions_count} times.",
                limit,
            )
        discount.max_redemptions = limit
    if "max_redemptions_per_customer" in fields:
        discount.max_redemptions_per_customer = body.max_redemptions_per_customer
    if body.metadata is not None:
        discount.user_metadata = dict(body.metadata)
    if body.products is not None:
        discount.products = await _products(session, discount.organization_id, body.products)
    await session.flush()
    await _emit(session, WebhookEventType.discount_updated, discount)
    return discount


async def delete_discount(session: AsyncSession, discount: Discount) -> None:
    """Soft delete: orders and checkouts keep referring to the row; its code is free again."""
    discount.deleted_at = utc_now()
    await session.flush()
    await _emit(session, WebhookEventType.discount_deleted, discount)


# Applying discounts to checkouts


def _unusable_reason(discount: Discount, now: datetime) -> str | None:
    if discount.deleted_at is not None:
        return "This discount no longer exists."
    if discount.starts_at is not None and now < discount.starts_at:
        return "This discount is not redeemable yet."
    if discount.ends_at is not None and now > discount.ends_at:
        return "This discount has expired."
    if (
        discount.max_redemptions is not None
        and discount.redemptions_count >= discount.max_redemptions
    ):
        return EXHAUSTED
    return None


def _applies_to(discount: Discount, product_id: uuid.UUID) -> bool:
    """No product restriction, or ``product_id`` among the restricted products."""
    return not discount.products or any(p.id == product_id for p in discount.products)


async def find_for_checkout(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    discount_id: uuid.UUID | None = None,
    code: str | None = None,
    product_id: uuid.UUID,
    now: datetime,
    loc: Loc | None = None,
) -> Discount:
    """The discount given by id (or else by code, matched case-insensitively) if it can be
    applied now to ``product_id``; otherwise a 422 on ``discount_id`` / ``discount_code``
    (or ``loc``) saying why."""
    repository = DiscountRepository(session)
    if discount_id is not None:
        where, value = loc or ("body", "discount_id"), str(discount_id)
        discount = await repository.get(organization_id, discount_id)
        missing = "Discount not found."
    elif code is not None:
        where, value = loc or ("body", "discount_code"), code
        discount = await repository.get_by_code(organization_id, code.strip())
        missing = "No discount has this code."
    else:
        raise ValueError("find_for_checkout needs a discount_id or a code")
    if discount is None:
        raise ValidationFailed.field(where, missing, value)
    reason = _unusable_reason(discount, now)
    if reason is None and not _applies_to(discount, product_id):
        reason = "This discount does not apply to this product."
    if reason is not None:
        raise ValidationFailed.field(where, reason, value)
    return discount


def discount_amount(
    discount: Discount, amount: int, currency: str, *, loc: Loc = ("body", "discount_id")
) -> int:
    """How much ``discount`` takes off a net ``amount`` in minor units of ``currency``: a fixed
    amount (at most ``amount``), or a percentage rounded half-up in integer arithmetic."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    if discount.type == "percentage":
        assert discount.basis_points is not None
        return (amount * discount.basis_points + 5_000) // 10_000
    off = (discount.amounts or {}).get(currency.lower())
    if off is None:
        raise ValidationFailed.field(
            loc,
            f"This discount does not apply to payments in {currency.upper()}.",
            str(discount.id),
        )
    return min(int(off), amount)


async def redeem(
    session: AsyncSession,
    discount: Discount,
    *,
    checkout_id: uuid.UUID,
    customer_id: uuid.UUID | None = None,
) -> None:
    """Count one use of ``discount`` by a checkout, safely under concurrency: the count moves
    only by a conditional UPDATE, so ``max_redemptions`` cannot be overrun. Redeeming again
    for the same checkout is a no-op. With ``customer_id``, ``max_redemptions_per_customer``
    is enforced too."""
    where = ("body", "discount_id")
    repository = DiscountRepository(session)
    existing = await repository.redemption_for_checkout(checkout_id, for_update=True)
    if existing is not None:
        if existing.discount_id == discount.id:
            return
        # The checkout changed discounts: the earlier one is no longer used by it.
        if await repository.delete_redemption(existing.discount_id, checkout_id):
            await repository.decrement_redemptions(existing.discount_id)
    now = utc_now()
    if customer_id is not None and discount.max_redemptions_per_customer is not None:
        await repository.lock(discount.id)  # serializes this customer's count with others'
        used = await repository.customer_redemptions(discount.id, customer_id)
        if used >= discount.max_redemptions_per_customer:
            raise ValidationFailed.field(
                where,
                "This customer has already used this discount as often as allowed.",
                str(discount.id),
            )
    count = await repository.increment_redemptions(discount.id, now)
    if count is None:
        await session.refresh(discount)
        raise ValidationFailed.field(
            where, _unusable_reason(discount, now) or EXHAUSTED, str(discount.id)
        )
    if not await repository.add_redemption(discount.id, checkout_id, customer_id, now):
        # A concurrent redeem of the same checkout recorded it first: take ours back.
        count = await repository.decrement_redemptions(discount.id)
    if count is not None:
        set_committed_value(discount, "redemptions_count", count)


async def release(session: AsyncSession, discount: Discount, *, checkout_id: uuid.UUID) -> None:
    """Give back the use a checkout made of ``discount`` (its payment failed, or it expired).
    Releasing twice, or a checkout that never redeemed, changes nothing."""
    repository = DiscountRepository(session)
    if await repository.delete_redemption(discount.id, checkout_id):
        count = await repository.decrement_redemptions(discount.id)
        if count is not None:
            set_committed_value(discount, "redemptions_count", count)
