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
    """The UI's English messages (:func:`cloud.web.i18n.said`) and the catalogue profiles'
    names and fault titles still on a page meant to be in Chinese: each a string that was
    not translated."""
    from cloud.web.i18n import package_root, said
    from device_profiles import Catalogue

    text = page.locator("body").inner_text()
    english = set(said(package_root()))
    for profile in Catalogue.load():
        english |= {profile.name, *(fault.title for fault in profile.faults.values())}
    found = [
        message
        for message in english
        if len(message) > 3
        and "{" not in message
        and re.search(rf"(?<![\w-]){re.escape(message)}(?![\w-])", text)
    ]
    return sorted(found)


def fits_the_screen(page: Page) -> bool:
    """No horizontal scrolling: the page is no wider than its viewport."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


_ACCESSIBILITY = """
() => {
  const problems = [];
  const shown = (el) => {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return style.visibility !== 'hidden' && style.display !== 'none'
      && box.width > 0 && box.height > 0;
  };
  const named = (el) => {
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const by = el.getAttribute('aria-labelledby');
    const text = (id) => (document.getElementById(id)?.textContent || '').trim();
    if (by && by.split(/\\s+/).some(text)) return true;
    if (el.labels && [...el.labels].some(l => l.textContent.trim())) return true;
    return false;
  };
  const where = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.getAttribute('name') ? `[name=${el.getAttribute('name')}]` : '');
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !shown(el)) continue;
    if (!named(el)) problems.push(`no label: ${where(el)}`);
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!shown(el)) continue;
    if (!(el.textContent.trim() || named(el) || el.querySelector('img[alt], svg title')))
      problems.push(`no name: ${where(el)}`);
  }
  for (const el of document.querySelectorAll('img')) {
    if (!el.hasAttribute('alt')) problems.push(`no alt: ${el.src}`);
  }
  for (const el of document.querySelectorAll('svg')) {
    if (el.closest('[aria-hidden=true]') || el.getAttribute('aria-hidden') === 'true') continue;
    if (!(el.getAttribute('aria-label') || el.querySelector('title')))
      problems.push(`svg without a title: ${where(el.parentElement)}`);
  }
  if (!document.documentElement.lang) problems.push('no lang on <html>');
  // contrast of text against the first opaque background behind it (WCAG 2: 4.5:1, 3:1 large)
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] >= 0.99)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el) || !shown(el)) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    const fg = rgb(style.color).slice(0, 3), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    if (ratio < (large ? 3 : 4.5))
      problems.push(`contrast ${ratio.toFixed(2)}: "${node.textContent.trim().slice(0, 40)}"`);
  }
  return problems;
}
"""


def accessibility_problems(page: Page) -> list[str]:
    """The basics a screen reader and a poor eye need, as found on ``page``: form fields,
    buttons and links with names, images and drawings with a text, the page's language,
    and text contrast of at least 4.5:1 (3:1 for large text)."""
    return list(page.evaluate(_ACCESSIBILITY))


def focus_unmarked(page: Page, presses: int = 12) -> list[str]:
    """What the keyboard reaches on ``page`` (Tab, ``presses`` times) without a visible focus
    mark (an outline or a shadow): each as its tag and text."""
    missing = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        found = page.evaluate(
            """() => {
              const el = document.activeElement;
              if (!el || el === document.body) return null;
              const s = getComputedStyle(el);
              const marked = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                || (s.boxShadow && s.boxShadow !== 'none');
              const what = el.tagName.toLowerCase() + ': ' + el.textContent.trim().slice(0, 30);
              return marked ? '' : what;
            }"""
        )
        if found:
            missing.append(found)
    return missing
