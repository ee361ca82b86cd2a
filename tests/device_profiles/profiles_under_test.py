"""The catalogue the profile tests run over: the built-in profiles, plus a site's own.

Set ``LINLI_TEST_PROFILES_DIRS`` to one or more directories (separated like ``PATH``) to
run every catalogue and property test over a site's profiles too, e.g.
``LINLI_TEST_PROFILES_DIRS=/etc/linli/profiles .venv/bin/pytest tests/device_profiles``.

Loaded once, when the first test module that parametrises over it is collected; a load
failure is reported by one test (test_catalogue.py), not at import.
"""

from __future__ import annotations

import os
from pathlib import Path

from device_profiles import Catalogue, Profile, ProfileError

ENV = "LINLI_TEST_PROFILES_DIRS"


def extra_dirs() -> list[Path]:
    return [Path(part) for part in os.environ.get(ENV, "").split(os.pathsep) if part]


def load_catalogue() -> tuple[Catalogue | None, str]:
    """The catalogue, or None and every problem found."""
    try:
        return Catalogue.load(extra_dirs()), ""
    except ProfileError as exc:
        return None, str(exc)


CATALOGUE, LOAD_ERROR = load_catalogue()
PROFILES: list[Profile] = list(CATALOGUE or ())
