from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal

import pytest

from kassa.kit.money import (
    PRESENTMENT_CURRENCIES,
    CurrencyMismatch,
    Money,
    minor_unit_exponent,
    normalize_currency,
)


def test_addition_and_subtraction_keep_the_currency() -> None:
    assert Money(1250, "usd") + Money(250, "usd") == Money(1500, "usd")
    assert Money(1250, "usd") - Money(250, "usd") == Money(1000, "usd")


def test_subtraction_can_go_negative() -> None:
    assert Money(100, "eur") - Money(250, "eur") == Money(-150, "eur")


def test_currency_is_normalized_on_construction() -> None:
    money = Money(1, " USD ")
    assert money.currency == "usd"
    assert money == Money(1, "usd")


@pytest.mark.parametrize("operation", [operator.add, operator.sub])
def test_currency_mismatch_raises(operation: Callable[[Money, Money], Money]) -> None:
    with pytest.raises(CurrencyMismatch):
        operation(Money(100, "usd"), Money(100, "eur"))
    assert issubclass(CurrencyMismatch, ValueError)


@pytest.mark.parametrize("amount", [10.5, 10.0, True, False, Decimal("10"), "10", None])
def test_amount_must_be_an_int(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "usd")  # type: ignore[arg-type]


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="Unsupported currency"):
        Money(100, "xyz")


def test_money_is_immutable() -> None:
    money = Money(100, "usd")
    with pytest.raises(AttributeError):
        money.amount = 200  # type: ignore[misc]


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1250, "usd", "12.50 USD"),
        (5, "usd", "0.05 USD"),
        (0, "usd", "0.00 USD"),
        (100_000, "eur", "1000.00 EUR"),
        (1200, "jpy", "1200 JPY"),
        (1200, "krw", "1200 KRW"),
        (7, "jpy", "7 JPY"),
        (-1250, "usd", "-12.50 USD"),
        (-5, "usd", "-0.05 USD"),
        (-1200, "jpy", "-1200 JPY"),
    ],
)
def test_format(amount: int, currency: str, text: str) -> None:
    assert Money(amount, currency).format() == text


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("usd", 2), ("EUR", 2), ("jpy", 0), ("KRW", 0), ("kwd", 3), ("bhd", 3), ("jod", 3)],
)
def test_minor_unit_exponent(currency: str, exponent: int) -> None:
    assert minor_unit_exponent(currency) == exponent


def test_three_decimal_currencies_are_not_presentment_currencies() -> None:
    """The contract's presentment currencies have no 3-decimal currency, so ``Money`` refuses
    them: ``format()``'s 3-decimal branch cannot be reached through ``Money``."""
    three_decimals = {"bhd", "iqd", "jod", "kwd", "lyd", "omr", "tnd"}
    assert not three_decimals & PRESENTMENT_CURRENCIES
    with pytest.raises(ValueError, match="Unsupported currency"):
        Money(1234, "kwd")


@pytest.mark.parametrize(
    ("code", "normalized"), [("usd", "usd"), ("USD", "usd"), (" Eur\n", "eur"), ("JpY", "jpy")]
)
def test_normalize_currency(code: str, normalized: str) -> None:
    assert normalize_currency(code) == normalized


@pytest.mark.parametrize("code", ["", "xyz", "us", "usdd", "u sd", "kwd"])
def test_normalize_currency_refuses_unknown_codes(code: str) -> None:
    with pytest.raises(ValueError, match="Unsupported currency"):
        normalize_currency(code)
