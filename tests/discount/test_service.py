"""What checkouts call: finding a usable discount, the amount it takes off, and redemptions,
including concurrent ones against real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kassa.config import Settings
from kassa.discount import service
from kassa.discount.serialize import checkout_discount_schema
from kassa.kit.db import create_engine, create_sessionmaker, session_scope
from kassa.kit.errors import ValidationFailed
from kassa.models import Customer, Discount, DiscountRedemption
from tests.conftest import TEST_SECRET_KEY, Tenant, TenantFactory
from tests.contract import assert_conforms, extra_fields
from tests.discount.helpers import (
    JSON,
    create_discount,
    create_product,
    fixed,
    get_discount,
    percentage,
    update_discount,
)

NOW = datetime(2030, 6, 15, 12, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


async def load(sessions: Sessions, discount_id: str) -> Discount:
    async with sessions() as session:
        discount = await session.get(Discount, uuid.UUID(discount_id))
        assert discount is not None
        return discount


async def find(sessions: Sessions, tenant: Tenant, product_id: str, **lookup: Any) -> Discount:
    async with sessions() as session:
        return await service.find_for_checkout(
            session, tenant.organization_id, product_id=uuid.UUID(product_id), now=NOW, **lookup
        )


async def refusal(sessions: Sessions, tenant: Tenant, product_id: str, **lookup: Any) -> JSON:
    with pytest.raises(ValidationFailed) as caught:
        await find(sessions, tenant, product_id, **lookup)
    [error] = caught.value.errors
    return error


async def redeem(
    sessions: Sessions, discount_id: str, checkout_id: uuid.UUID, **kwargs: Any
) -> None:
    async with session_scope(sessions) as session:
        discount = await session.get(Discount, uuid.UUID(discount_id))
        assert discount is not None
        await service.redeem(session, discount, checkout_id=checkout_id, **kwargs)


async def release(sessions: Sessions, discount_id: str, checkout_id: uuid.UUID) -> None:
    async with session_scope(sessions) as session:
        discount = await session.get(Discount, uuid.UUID(discount_id))
        assert discount is not None
        await service.release(session, discount, checkout_id=checkout_id)


async def redemption_rows(sessions: Sessions, discount_id: str) -> int:
    async with sessions() as session:
        statement = select(func.count()).where(
            DiscountRedemption.discount_id == uuid.UUID(discount_id)
        )
        return int(await session.scalar(statement) or 0)


# find_for_checkout


async def test_find_by_id_and_by_code_case_insensitively(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    product = await create_product(client, tenant)
    discount = await create_discount(client, tenant, percentage(code="SUMMER"))

    by_id = await find(sessionmaker, tenant, product["id"], discount_id=uuid.UUID(discount["id"]))
    by_code = await find(sessionmaker, tenant, product["id"], code="summer")
    padded = await find(sessionmaker, tenant, product["id"], code=" Summer ")

    assert str(by_id.id) == str(by_code.id) == str(padded.id) == discount["id"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"starts_at": "2030-07-01T00:00:00Z"}, "This discount is not redeemable yet."),
        ({"ends_at": "2030-06-01T00:00:00Z"}, "This discount has expired."),
    ],
)
async def test_unusable_discounts_are_refused_with_the_reason(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    fields: JSON,
    message: str,
) -> None:
    product = await create_product(client, tenant)
    discount = await create_discount(client, tenant, percentage(code="LATER", **fields))

    by_id = await refusal(
        sessionmaker, tenant, product["id"], discount_id=uuid.UUID(discount["id"])
    )
    by_code = await refusal(sessionmaker, tenant, product["id"], code="later")

    assert by_id == {
        "loc": ["body", "discount_id"],
        "msg": message,
        "type": "value_error",
        "input": discount["id"],
    }
    assert (by_code["loc"], by_code["msg"], by_code["input"]) == (
        ["body", "discount_code"],
        message,
        "later",
    )


async def test_the_validity_period_bounds_are_inclusive(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    product = await create_product(client, tenant)
    starts = await create_discount(client, tenant, percentage(starts_at=NOW.isoformat()))
    ends = await create_discount(client, tenant, percentage(ends_at=NOW.isoformat()))

    for discount in (starts, ends):
        await find(sessionmaker, tenant, product["id"], discount_id=uuid.UUID(discount["id"]))


async def test_unknown_deleted_and_foreign_discounts_are_not_found(
    client: httpx.AsyncClient,
    tenant: Tenant,
    make_tenant: TenantFactory,
    sessionmaker: Sessions,
) -> None:
    product = await create_product(client, tenant)
    deleted = await create_discount(client, tenant, percentage(code="GONE"))
    await client.delete(f"/v1/discounts/{deleted['id']}", headers=tenant.headers)
    other = await make_tenant()
    foreign = await create_discount(client, other, percentage(code="THEIRS"))

    for discount_id in (str(uuid.uuid4()), deleted["id"], foreign["id"]):
        error = await refusal(
            sessionmaker, tenant, product["id"], discount_id=uuid.UUID(discount_id)
        )
        assert (error["loc"], error["msg"]) == (["body", "discount_id"], "Discount not found.")
    for code in ("NOPE", "GONE", "THEIRS"):
        error = await refusal(sessionmaker, tenant, product["id"], code=code)
        assert error["loc"] == ["body", "discount_code"]
        assert error["msg"] == "No discount has this code."


async def test_product_restrictions(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    allowed = await create_product(client, tenant, "Allowed")
    other = await create_product(client, tenant, "Other")
    discount = await create_discount(client, tenant, percentage(products=[allowed["id"]]))
    discount_id = uuid.UUID(discount["id"])

    await find(sessionmaker, tenant, allowed["id"], discount_id=discount_id)
    error = await refusal(sessionmaker, tenant, other["id"], discount_id=discount_id)
    assert error["msg"] == "This discount does not apply to this product."

    await update_discount(client, tenant, discount["id"], products=[])
    await find(sessionmaker, tenant, other["id"], discount_id=discount_id)


async def test_a_caller_may_name_its_own_location(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    product = await create_product(client, tenant)

    error = await refusal(
        sessionmaker, tenant, product["id"], code="NONE", loc=("query", "discount_code")
    )

    assert error["loc"] == ["query", "discount_code"]


# discount_amount


def percentage_discount(basis_points: int) -> Discount:
    return Discount(type="percentage", duration="once", basis_points=basis_points)


def fixed_discount(amounts: dict[str, int], currency: str = "usd") -> Discount:
    return Discount(
        id=uuid.uuid4(), type="fixed", duration="once", amounts=amounts, currency=currency
    )


@pytest.mark.parametrize(
    ("amount", "basis_points", "expected"),
    [
        (1000, 1000, 100),
        (1005, 1000, 101),  # 100.5 rounds half up
        (1004, 1000, 100),  # 100.4 rounds down
        (1015, 1000, 102),  # 101.5 rounds half up, not to even
        (999, 3333, 333),  # 332.9667
        (1, 5000, 1),  # 0.5
        (1, 4999, 0),
        (49, 1, 0),
        (2500, 10_000, 2500),
        (0, 2500, 0),
        (99_999_999_999, 9999, 99_989_999_999),  # 99989999999.0001, exact in integers
    ],
)
def test_percentage_amounts_round_half_up(amount: int, basis_points: int, expected: int) -> None:
    result = service.discount_amount(percentage_discount(basis_points), amount, "usd")

    assert result == expected
    assert isinstance(result, int)


def test_percentage_amounts_match_decimal_rounding() -> None:
    for amount in range(0, 3000, 7):
        for basis_points in (1, 333, 1250, 2550, 5000, 6667, 9999, 10_000):
            exact = Decimal(amount) * basis_points / 10_000
            expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
            assert (
                service.discount_amount(percentage_discount(basis_points), amount, "eur")
                == expected
            ), (amount, basis_points)


def test_fixed_amounts_take_the_checkout_currency_and_never_exceed_the_amount() -> None:
    discount = fixed_discount({"usd": 500, "jpy": 700})

    assert service.discount_amount(discount, 2000, "usd") == 500
    assert service.discount_amount(discount, 2000, "USD") == 500
    assert service.discount_amount(discount, 300, "usd") == 300
    assert service.discount_amount(discount, 5000, "jpy") == 700


def test_a_fixed_discount_in_another_currency_does_not_apply() -> None:
    discount = fixed_discount({"usd": 500})

    with pytest.raises(ValidationFailed) as caught:
        service.discount_amount(discount, 2000, "eur")

    [error] = caught.value.errors
    assert error["loc"] == ["body", "discount_id"]
    assert error["msg"] == "This discount does not apply to payments in EUR."


# Redemptions


async def test_redeem_counts_once_per_checkout(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    discount = await create_discount(client, tenant, percentage(max_redemptions=3))
    checkout = uuid.uuid4()

    await redeem(sessionmaker, discount["id"], checkout)
    await redeem(sessionmaker, discount["id"], checkout)
    await redeem(sessionmaker, discount["id"], uuid.uuid4())

    served = await get_discount(client, tenant, discount["id"])
    assert served["redemptions_count"] == 2
    assert served["modified_at"] is None  # a redemption is not the merchant's change
    assert await redemption_rows(sessionmaker, discount["id"]) == 2


async def test_redeem_updates_the_object_it_was_given(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    discount = await create_discount(client, tenant, percentage())

    async with session_scope(sessionmaker) as session:
        row = await session.get(Discount, uuid.UUID(discount["id"]))
        assert row is not None
        await service.redeem(session, row, checkout_id=uuid.uuid4())
        assert row.redemptions_count == 1
        await service.release(session, row, checkout_id=uuid.uuid4())  # never redeemed
        assert row.redemptions_count == 1


async def test_an_exhausted_discount_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    product = await create_product(client, tenant)
    discount = await create_discount(client, tenant, percentage(max_redemptions=1, code="ONCE"))
    await redeem(sessionmaker, discount["id"], uuid.uuid4())

    with pytest.raises(ValidationFailed) as caught:
        await redeem(sessionmaker, discount["id"], uuid.uuid4())
    assert caught.value.errors[0]["loc"] == ["body", "discount_id"]
    assert caught.value.errors[0]["msg"] == service.EXHAUSTED
    error = await refusal(sessionmaker, tenant, product["id"], code="once")
    assert error["msg"] == service.EXHAUSTED
    assert (await get_discount(client, tenant, discount["id"]))["redemptions_count"] == 1


async def test_release_gives_the_use_back_once(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    discount = await create_discount(client, tenant, percentage(max_redemptions=1))
    checkout = uuid.uuid4()
    await redeem(sessionmaker, discount["id"], checkout)

    await release(sessionmaker, discount["id"], checkout)
    await release(sessionmaker, discount["id"], checkout)

    assert (await get_discount(client, tenant, discount["id"]))["redemptions_count"] == 0
    await redeem(sessionmaker, discount["id"], uuid.uuid4())  # usable again
    assert (await get_discount(client, tenant, discount["id"]))["redemptions_count"] == 1


async def test_a_checkout_switching_discounts_moves_its_redemption(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    first = await create_discount(client, tenant, percentage(name="First"))
    second = await create_discount(client, tenant, percentage(name="Second"))
    checkout = uuid.uuid4()

    await redeem(sessionmaker, first["id"], checkout)
    await redeem(sessionmaker, second["id"], checkout)

    assert (await get_discount(client, tenant, first["id"]))["redemptions_count"] == 0
    assert (await get_discount(client, tenant, second["id"]))["redemptions_count"] == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("delete", "This discount no longer exists."),
        ("expire", "This discount has expired."),
    ],
)
async def test_redeem_rechecks_the_discount(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: Sessions,
    change: str,
    message: str,
) -> None:
    discount = await create_discount(client, tenant, percentage())
    if change == "delete":
        await client.delete(f"/v1/discounts/{discount['id']}", headers=tenant.headers)
    else:
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        await update_discount(client, tenant, discount["id"], ends_at=past)

    with pytest.raises(ValidationFailed) as caught:
        await redeem(sessionmaker, discount["id"], uuid.uuid4())

    assert caught.value.errors[0]["msg"] == message
    assert await redemption_rows(sessionmaker, discount["id"]) == 0


async def test_per_customer_limit(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    discount = await create_discount(client, tenant, percentage(max_redemptions_per_customer=1))
    async with session_scope(sessionmaker) as session:
        customer = Customer(organization_id=tenant.organization_id, email="a@example.com")
        session.add(customer)
    await redeem(sessionmaker, discount["id"], uuid.uuid4(), customer_id=customer.id)

    with pytest.raises(ValidationFailed) as caught:
        await redeem(sessionmaker, discount["id"], uuid.uuid4(), customer_id=customer.id)

    assert caught.value.errors[0]["loc"] == ["body", "discount_id"]
    await redeem(sessionmaker, discount["id"], uuid.uuid4())  # another (unknown) customer
    assert (await get_discount(client, tenant, discount["id"]))["redemptions_count"] == 2


@pytest_asyncio.fixture
async def wide_sessions(database_url: str) -> AsyncIterator[Sessions]:
    """Sessions on an engine with room for 20 connections at once."""
    settings = Settings(secret_key=TEST_SECRET_KEY, database_pool_size=25)
    engine = create_engine(database_url, settings)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def test_concurrent_redemptions_never_exceed_the_limit(
    client: httpx.AsyncClient, tenant: Tenant, wide_sessions: Sessions
) -> None:
    discount = await create_discount(client, tenant, percentage(max_redemptions=5))
    everyone_loaded = asyncio.Barrier(20)

    async def attempt() -> str:
        async with wide_sessions() as session:
            row = await session.get(Discount, uuid.UUID(discount["id"]))
            assert row is not None and row.redemptions_count == 0
            await everyone_loaded.wait()  # all 20 saw a fresh discount before any redeems
            try:
                await service.redeem(session, row, checkout_id=uuid.uuid4())
            except ValidationFailed as refused:
                await session.rollback()
                assert refused.errors[0]["loc"] == ["body", "discount_id"]
                return str(refused.errors[0]["msg"])
            await session.commit()
            return "redeemed"

    outcomes = await asyncio.gather(*(attempt() for _ in range(20)))

    assert outcomes.count("redeemed") == 5
    assert outcomes.count(service.EXHAUSTED) == 15
    assert (await get_discount(client, tenant, discount["id"]))["redemptions_count"] == 5
    assert await redemption_rows(wide_sessions, discount["id"]) == 5


async def test_concurrent_redemptions_of_one_checkout_count_once(
    client: httpx.AsyncClient, tenant: Tenant, wide_sessions: Sessions
) -> None:
    discount = await create_discount(client, tenant, percentage())
    checkout = uuid.uuid4()
    everyone_loaded = asyncio.Barrier(10)

    async def attempt() -> None:
        async with wide_sessions() as session:
            row = await session.get(Discount, uuid.UUID(discount["id"]))
            assert row is not None
            await everyone_loaded.wait()
            await service.redeem(session, row, checkout_id=checkout)
            await session.commit()

    await asyncio.gather(*(attempt() for _ in range(10)))

    assert (await get_discount(client, tenant, discount["id"]))["redemptions_count"] == 1
    assert await redemption_rows(wide_sessions, discount["id"]) == 1


# After redemptions, through the API


async def test_redeemed_discounts_keep_their_terms(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    by_percent = await create_discount(client, tenant, percentage(1000, max_redemptions=5))
    by_amount = await create_discount(client, tenant, fixed(500))
    for discount in (by_percent, by_amount):
        await redeem(sessionmaker, discount["id"], uuid.uuid4())
        await redeem(sessionmaker, discount["id"], uuid.uuid4())

    points = await update_discount(client, tenant, by_percent["id"], basis_points=2000)
    amount = await update_discount(client, tenant, by_amount["id"], amount=100)
    amounts = await update_discount(client, tenant, by_amount["id"], amounts={"usd": 1})
    limit = await update_discount(client, tenant, by_percent["id"], max_redemptions=1)
    for response, field in (
        (points, "basis_points"),
        (amount, "amount"),
        (amounts, "amounts"),
        (limit, "max_redemptions"),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", field]

    same = await update_discount(client, tenant, by_percent["id"], basis_points=1000)
    assert same.status_code == 200
    allowed = await update_discount(
        client, tenant, by_percent["id"], max_redemptions=2, name="Closed"
    )
    assert allowed.status_code == 200, allowed.text
    assert (allowed.json()["redemptions_count"], allowed.json()["max_redemptions"]) == (2, 2)


async def test_sorting_by_redemptions_count(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions
) -> None:
    ids = {}
    for name, uses in (("Two", 2), ("None", 0), ("One", 1)):
        ids[name] = (await create_discount(client, tenant, percentage(name=name)))["id"]
        for _ in range(uses):
            await redeem(sessionmaker, ids[name], uuid.uuid4())

    for sorting, expected in (
        ("redemptions_count", ["None", "One", "Two"]),
        ("-redemptions_count", ["Two", "One", "None"]),
    ):
        response = await client.get(
            "/v1/discounts/", params={"sorting": sorting}, headers=tenant.headers
        )
        assert [item["name"] for item in response.json()["items"]] == expected


# The checkout's view of a discount


@pytest.mark.parametrize(
    ("body", "schema"),
    [
        (percentage(), "CheckoutDiscountPercentageOnceForeverDuration"),
        (
            percentage(duration="repeating", duration_in_months=3),
            "CheckoutDiscountPercentageRepeatDuration",
        ),
        (fixed(duration="forever"), "CheckoutDiscountFixedOnceForeverDuration"),
        (fixed(duration="repeating", duration_in_months=2), "CheckoutDiscountFixedRepeatDuration"),
    ],
)
async def test_checkout_discount_schema(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: Sessions, body: JSON, schema: str
) -> None:
    created = await create_discount(client, tenant, {**body, "code": "VIEW"})

    served = checkout_discount_schema(await load(sessionmaker, created["id"])).model_dump(
        mode="json"
    )

    assert_conforms(schema, served)
    assert not extra_fields(schema, served)
    assert {key: created[key] for key in served} == served
