"""Money: an integer amount of minor units with its ISO 4217 currency. Never a float."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt

# Currencies a price can be presented in (the contract's PresentmentCurrency), lower case.
PRESENTMENT_CURRENCIES: frozenset[str] = frozenset(
    """
    aed all amd aoa ars aud awg azn bam bbd bdt bif bmd bnd bob brl bsd bwp bzd cad cdf chf clp
    cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl
    htg huf idr ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lkr lrd lsl mad mdl mga mkd
    mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd pab pen pgk php pkr pln pyg qar ron
    rsd rwf sar sbd scr sek sgd shp sos srd szl thb tjs top try ttd twd tzs uah ugx usd uyu uzs
    vnd vuv wst xaf xcd xcg xof xpf yer zar zmw
    """.split()
)

# ISO 4217 minor-unit exponents that differ from 2.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf isk".split(), 0
    ),
    **dict.fromkeys("bhd iqd jod kwd lyd omr tnd".split(), 3),
}

# Largest amount Kassa accepts in one price or charge, in minor units (fits a PostgreSQL int8
# with room for sums, and stays exact in JavaScript clients).
MAX_AMOUNT = 99_999_999_999


class CurrencyMismatch(ValueError):
    pass


def normalize_currency(code: str) -> str:
    lowered = code.strip().lower()
    if lowered not in PRESENTMENT_CURRENCIES:
        raise ValueError(f"Unsupported currency {code!r}")
    return lowered


def minor_unit_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.lower(), 2)


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money amounts are integers of minor units")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def format(self) -> str:
        """Human form, e.g. ``12.50 USD`` or ``1200 JPY``."""
        exponent = minor_unit_exponent(self.currency)
        sign = "-" if self.amount < 0 else ""
        whole, fraction = divmod(abs(self.amount), 10**exponent)
        text = f"{whole}.{fraction:0{exponent}d}" if exponent else str(whole)
        return f"{sign}{text} {self.currency.upper()}"


# Amount fields in request bodies: strict integers (a JSON 10.5 or "10" is refused), bounded.
Amount = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]
PositiveAmount = Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT)]
Currency = Annotated[str, AfterValidator(normalize_currency)]
