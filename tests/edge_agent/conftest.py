"""Fixtures for edge-agent tests: the built-in profiles and an environment free of settings."""

from __future__ import annotations

import os

import pytest

from device_profiles import Catalogue


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    """The built-in profiles."""
    return Catalogue.load()


@pytest.fixture(autouse=True)
def _no_edge_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from each test alone, not from LINLI_EDGE_* in the caller's shell."""
    for name in list(os.environ):
        if name.startswith("LINLI_EDGE_"):
            monkeypatch.delenv(name)
