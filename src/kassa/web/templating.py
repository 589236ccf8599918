"""The Jinja2 environment of the web pages: autoescaped templates and the money filter.

Money is shown as ``Intl.NumberFormat("en-US", {style: "currency"})`` shows it in the browser
(``$25.00``, ``€9.99``, ``¥1,200``, ``CHF 25.00``), with the ISO 4217 exponent Kassa uses for
minor units, so the server-rendered page and the script's later updates read the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from kassa.kit.money import minor_unit_exponent

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"

# en-US currency symbols that differ from the upper-case ISO code (Chromium's ICU data).
CURRENCY_SYMBOLS: dict[str, str] = {
    "aud": "A$",
    "brl": "R$",
    "cad": "CA$",
    "cny": "CN¥",
    "eur": "€",
    "gbp": "£",
    "hkd": "HK$",
    "ils": "₪",
    "inr": "₹",
    "jpy": "¥",
    "krw": "₩",
    "mxn": "MX$",
    "nzd": "NZ$",
    "php": "₱",
    "twd": "NT$",
    "usd": "$",
    "vnd": "₫",
    "xaf": "FCFA",
    "xcd": "EC$",
    "xof": "F\u202fCFA",
    "xpf": "CFPF",
}
MINUS = "\u2212"


def format_money(amount: int, currency: str) -> str:
    """``2500, "usd"`` → ``$25.00``; ``1200, "jpy"`` → ``¥1,200``; negatives get a minus sign."""
    exponent = minor_unit_exponent(currency)
    whole, fraction = divmod(abs(amount), 10**exponent)
    number = f"{whole:,}" + (f".{fraction:0{exponent}d}" if exponent else "")
    symbol = CURRENCY_SYMBOLS.get(currency.lower(), currency.upper())
    separator = "\u00a0" if symbol[-1].isalpha() else ""
    return f"{MINUS if amount < 0 else ''}{symbol}{separator}{number}"


def format_major(amount: int, currency: str) -> str:
    """The amount as the customer types it into a form: ``2500, "usd"`` → ``25.00``."""
    exponent = minor_unit_exponent(currency)
    whole, fraction = divmod(amount, 10**exponent)
    return f"{whole}.{fraction:0{exponent}d}" if exponent else str(whole)


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["money"] = format_money
    environment.filters["major"] = format_major
    environment.globals["currency_symbol"] = lambda currency: CURRENCY_SYMBOLS.get(
        currency.lower(), currency.upper()
    )
    return environment


templates = _environment()

PAGE_HEADERS = {
    # The URL carries the checkout's client secret: never leak it to other sites.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def content_security_policy(frame_ancestors: str = "'none'") -> str:
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' https: data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            f"frame-ancestors {frame_ancestors}",
        )
    )


def render(
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    frame_ancestors: str = "'none'",
) -> HTMLResponse:
    html = templates.get_template(template).render(context)
    headers = PAGE_HEADERS | {"Content-Security-Policy": content_security_policy(frame_ancestors)}
    return HTMLResponse(html, status_code=status_code, headers=headers)
