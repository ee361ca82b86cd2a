"""Fixtures of the browser tests: a Chromium and a served cloud per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.conftest import build_services
from tests.cloud.web.browser import launched, served


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A Chromium for one test. Not one per session: Playwright's sync API keeps an event
    loop running in the thread while it is started, and the worker's other tests run
    asyncio loops of their own."""
    with launched() as found:
        yield found


@pytest.fixture
def web_services(tmp_path: Path, catalogue: Catalogue) -> Iterator[Services]:
    """Services on SQLite for a served cloud (the engines are the other tests' concern)."""
    data_dir = tmp_path / "cloud"
    data_dir.mkdir()
    built = build_services(data_dir, catalogue, ingest=False)
    yield built
    built.close()


@pytest.fixture
def base_url(web_services: Services) -> Iterator[str]:
    with served(web_services) as url:
        yield url
