"""English names of the billing countries Kassa accepts (ISO 3166-1 alpha-2) for the country
select, from the Unicode CLDR data that Babel ships (the data browsers use too)."""

from __future__ import annotations

from babel import Locale

from kassa.kit.address import COUNTRIES

_TERRITORIES = Locale("en").territories
COUNTRY_NAMES: dict[str, str] = {code: _TERRITORIES.get(code, code) for code in sorted(COUNTRIES)}
