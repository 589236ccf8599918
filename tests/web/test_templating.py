"""Money as the pages show it, and the web files shipped as package data."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from kassa.web.templating import PACKAGE_DIR, format_major, format_money

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (2500, "usd", "$25.00"),
        (5, "usd", "$0.05"),
        (123456789, "eur", "€1,234,567.89"),
        (-625, "usd", "\u2212$6.25"),
        (120000, "jpy", "¥120,000"),
        (1000, "krw", "₩1,000"),
        (2500, "chf", "CHF\u00a025.00"),
        (2500, "cad", "CA$25.00"),
        (0, "gbp", "£0.00"),
    ],
)
def test_format_money(amount: int, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown


def test_format_major() -> None:
    assert format_major(1050, "usd") == "10.50"
    assert format_major(7, "eur") == "0.07"
    assert format_major(1200, "jpy") == "1200"


def test_every_web_file_is_package_data() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["kassa"]
    package_root = PACKAGE_DIR.parent
    files = [
        path.relative_to(package_root).as_posix()
        for path in PACKAGE_DIR.rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc")
    ]
    assert files
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
