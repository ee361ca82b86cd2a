"""A pacer rests once its work time has passed, and only then."""

from __future__ import annotations

import time

import pytest

from plumbing.pacing import Pacer, unpaced


def test_a_pacer_rests_after_its_work_time_and_not_before() -> None:
    pace = Pacer(work_s=0.05, rest_s=0.2)
    started = time.monotonic()
    pace()  # no work time has passed yet: no rest
    assert time.monotonic() - started < 0.2
    while time.monotonic() - started < 0.05:
        pass  # work
    before = time.monotonic()
    pace()
    assert time.monotonic() - before >= 0.2, "it rested"
    after = time.monotonic()
    pace()  # a new work time began with the rest
    assert time.monotonic() - after < 0.2


def test_unpaced_never_rests_and_bad_times_are_refused() -> None:
    assert unpaced() is None
    with pytest.raises(ValueError):
        Pacer(work_s=0)
    with pytest.raises(ValueError):
        Pacer(rest_s=-1)
