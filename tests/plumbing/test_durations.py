"""Durations as people write them: parsing, ranges, and writing them back."""

from __future__ import annotations

import math

import pytest

from plumbing.durations import Range, format_duration, parse_duration, parse_duration_range
from simulators.faults import MAX_FAULT_DURATION_S


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (2.5, 2.5),
        (0, 0.0),
        ("90", 90.0),
        ("0", 0.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("2d", 172800.0),
        ("1d2h3m4s", 93784.0),
        (" 1h 30m ", 5400.0),
        ("1e3", 1000.0),
    ],
)
def test_durations_parse(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a duration"),
        ("5x", "not a duration"),
        ("5 minutes", "not a duration"),
        ("30m1h", "largest first"),
        ("1h30", "not a duration"),
        ("m", "not a duration"),
        ("-5m", "must not be negative"),
        (-1, "must not be negative"),
        ("inf", "not a duration"),
        (math.inf, "finite"),
        (math.nan, "finite"),
        ("1e999", "finite"),
        (10**400, "finite"),
        (True, "number of seconds or text"),
    ],
)
def test_bad_durations_say_why(text: str | int | float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(MAX_FAULT_DURATION_S) == "7d"
    assert format_duration(5400) == "1h30m"
    assert format_duration(0) == "0s"
    assert format_duration(1.5) == "1.5s"


def test_duration_ranges() -> None:
    assert parse_duration_range("30m:2h") == Range(1800.0, 7200.0)
    assert parse_duration_range("90:90s") == (90.0, 90.0)
    with pytest.raises(ValueError, match="expects MIN:MAX"):
        parse_duration_range("30m")
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_range("30m:soon")
