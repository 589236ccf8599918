"""Headless Chromium for browser tests: Debian's ``chromium`` driven by Playwright.

Playwright never downloads a browser here; it launches the system binary through
``executable_path``. Tests skip (with the reason) only when no Chromium is installed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, ViewportSize, async_playwright

CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}


def chromium_path() -> str | None:
    """``KASSA_CHROMIUM`` if set, else the first Chromium on ``PATH``."""
    configured = os.environ.get("KASSA_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip(
            "Chromium is not installed (install Debian's `chromium` package, or set "
            "KASSA_CHROMIUM to a Chromium binary); browser tests need it."
        )
    return path


@asynccontextmanager
async def launch_chromium() -> AsyncIterator[Browser]:
    """A headless Chromium for the duration of the block."""
    executable = require_chromium()
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            await browser.close()
