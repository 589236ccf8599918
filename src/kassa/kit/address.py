"""Postal addresses as the contract has them (``Address``/``AddressInput``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from kassa.kit.schemas import InputSchema, Schema

# ISO 3166-1 alpha-2 codes accepted as a billing country (the contract's list).
COUNTRIES: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CV CW CX CY CZ DE DJ DK DM DO DZ EC
    EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
    HK HM HN HR HT HU ID IE IL IM IN IO IQ IS IT JE JM JO JP KE KG KH KI KM KN KR KW KY KZ LA LB
    LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY
    MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO
    RS RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SZ TC TD TF TG TH TJ TK TL TM
    TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()
)


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in COUNTRIES:
        raise ValueError(f"Unknown country code {value!r}; use ISO 3166-1 alpha-2, e.g. US")
    return code


CountryCode = Annotated[str, AfterValidator(_country)]
Line = Annotated[str, StringConstraints(max_length=256)]


class AddressInput(InputSchema):
    line1: Line | None = None
    line2: Line | None = None
    postal_code: Line | None = None
    city: Line | None = None
    state: Line | None = None
    country: CountryCode


class Address(Schema):
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    state: str | None = None
    country: str


__all__ = ["COUNTRIES", "Address", "AddressInput", "CountryCode"]
