"""Fixtures the device-profile tests share: the built-in catalogue, and a site directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_profiles import Catalogue
from tests.device_profiles.profile_texts import VALID, write


@pytest.fixture(scope="session")
def builtin_catalogue() -> Catalogue:
    """The built-in profiles alone, loaded once."""
    return Catalogue.load()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site's profile directory holding one valid profile, ``pump.yaml`` (VALID)."""
    directory = tmp_path / "site"
    write(directory, "pump.yaml", VALID)
    return directory
