"""Reconnect delays: within the window, the window doubling up to max_s, reset, full jitter."""

from __future__ import annotations

import random

import pytest

from plumbing.backoff import Backoff


class _Highest(random.Random):
    """Always draws the top of the window, so a delay shows the window it came from."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_ceiling_doubles_per_failure_up_to_max_s_and_stays_there() -> None:
    backoff = Backoff(1.0, 10.0, rng=_Highest())
    assert backoff.ceiling == 1.0
    assert [backoff.next() for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert backoff.ceiling == 10.0


def test_ceiling_stays_at_max_s_after_very_many_failures() -> None:
    backoff = Backoff(0.5, 60.0, rng=random.Random(1))
    for _ in range(1000):
        backoff.next()
    assert backoff.ceiling == 60.0


def test_delays_stay_within_zero_and_the_ceiling() -> None:
    backoff = Backoff(0.25, 5.0, rng=random.Random(7))
    for _ in range(200):
        ceiling = backoff.ceiling
        assert 0.0 <= backoff.next() <= ceiling


def test_reset_starts_over_from_first_s() -> None:
    backoff = Backoff(2.0, 30.0, rng=_Highest())
    for _ in range(4):
        backoff.next()
    backoff.reset()
    assert backoff.ceiling == 2.0
    assert [backoff.next(), backoff.next()] == [2.0, 4.0]


def test_full_jitter_spreads_delays_over_the_whole_window() -> None:
    backoff = Backoff(8.0, 8.0, rng=random.Random(42))
    delays = [backoff.next() for _ in range(500)]
    assert min(delays) < 1.0  # low part of [0, 8]
    assert max(delays) > 7.0  # high part
    assert sum(d < 4.0 for d in delays) > 150  # both halves well used
    assert sum(d >= 4.0 for d in delays) > 150


def test_same_seed_gives_same_delays() -> None:
    first = Backoff(1.0, 60.0, rng=random.Random(3))
    second = Backoff(1.0, 60.0, rng=random.Random(3))
    assert [first.next() for _ in range(10)] == [second.next() for _ in range(10)]


@pytest.mark.parametrize(("first_s", "max_s"), [(0.0, 10.0), (-1.0, 10.0), (5.0, 4.0), (1.0, 0.5)])
def test_invalid_arguments_raise_value_error(first_s: float, max_s: float) -> None:
    with pytest.raises(ValueError, match="0 < first_s <= max_s"):
        Backoff(first_s, max_s)


def test_first_s_equal_to_max_s_is_allowed() -> None:
    backoff = Backoff(3.0, 3.0, rng=_Highest())
    assert [backoff.next(), backoff.next()] == [3.0, 3.0]
