"""The web UI in a real browser: Debian's headless Chromium driven by Playwright, against a
cloud served by uvicorn on a free loopback port. Screenshots of each view are written to
``var/screenshots`` (``LINLI_SCREENSHOTS`` elsewhere) as test artefacts."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from cloud.app import create_app
from cloud.services import Services
from linli.ports import free_port
from tests.conftest import _missing

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(
    os.environ.get("LINLI_SCREENSHOTS", Path(__file__).resolve().parents[3] / "var/screenshots")
)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def chromium_path() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None:
        _missing(FileNotFoundError("Debian's chromium is not installed (make test installs it)"))
    assert found is not None
    return found


@contextmanager
def launched() -> Iterator[Browser]:
    """A headless Chromium for the session."""
    path = chromium_path()
    playwright: Playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def served(services: Services) -> Iterator[str]:
    """The cloud app of ``services`` served on a free loopback port; its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the cloud did not start serving")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot of ``page`` as the test artefact ``name``.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form.login button").click()
    page.wait_for_load_state()


def english_left(page: Page) -> list[str]:
    """The UI's English messages (:func:`cloud.web.i18n.said`) still on a page meant to be in
    Chinese: each a string that was not translated."""
    from cloud.web.i18n import package_root, said

    text = page.locator("body").inner_text()
    found = [
        message
        for message in said(package_root())
        if len(message) > 3
        and "{" not in message
        and re.search(rf"(?<![\w-]){re.escape(message)}(?![\w-])", text)
    ]
    return sorted(found)


def fits_the_screen(page: Page) -> bool:
    """No horizontal scrolling: the page is no wider than its viewport."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))
