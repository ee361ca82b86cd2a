"""Durations as people write them: ``90``, ``90s``, ``5m``, ``1h30m``, ``2d``.

:func:`parse_duration` reads one (seconds, or numbers with units largest first),
:func:`parse_duration_range` a ``MIN:MAX`` pair, :func:`format_duration` writes seconds back
the same way. :data:`Duration` and :data:`DurationRange` are the pydantic field types that
accept them, for scenario files, the ``linli sim`` settings and site files alike.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, NamedTuple

from pydantic import BeforeValidator, WithJsonSchema

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_DURATION = re.compile(r"\s*".join(rf"(?:(?P<{unit}>{_NUMBER})\s*{unit})?" for unit in _UNITS))
_PLAIN_NUMBER = re.compile(rf"[+-]?(?:{_NUMBER})(?:[eE][+-]?\d+)?")


def parse_duration(text: str | int | float) -> float:
    """Seconds in a duration: a number of seconds (``90``, ``2.5``, ``"90"``) or numbers with
    units, largest first (``"90s"``, ``"5m"``, ``"1.5h"``, ``"1h30m"``, ``"2d"``).

    ValueError, saying what is accepted, for anything else, and for negative or infinite ones.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"a duration must be a number of seconds or text like 5m, got {text!r}")
    if isinstance(text, (int, float)):
        try:
            seconds = float(text)
        except OverflowError:
            raise ValueError("a duration must be a finite number, this one is too long") from None
        return _checked(seconds, text)
    stripped = text.strip()
    if _PLAIN_NUMBER.fullmatch(stripped):
        return _checked(float(stripped), text)
    units = _with_units(stripped)
    if units is None and stripped.startswith("-") and _with_units(stripped[1:].lstrip()):
        raise ValueError(f"a duration must not be negative, got {text!r}")
    if units is None:
        raise ValueError(
            f"not a duration: {text!r} (give seconds, or numbers with units d, h, m, s, "
            "largest first: 90s, 5m, 1h30m, 2d)"
        )
    return _checked(sum(float(value) * _UNITS[unit] for unit, value in units.items()), text)


class Range(NamedTuple):
    """From ``low`` to ``high`` seconds."""

    low: float
    high: float


def parse_duration_range(text: str) -> Range:
    """The seconds of ``MIN:MAX`` (``30m:2h``); ValueError saying what is wrong."""
    low, sep, high = text.partition(":")
    if not sep:
        raise ValueError(f"expects MIN:MAX, e.g. 30m:2h, got {text!r}")
    return Range(parse_duration(low), parse_duration(high))


def _with_units(text: str) -> dict[str, str] | None:
    """``{"h": "1", "m": "30"}`` for ``1h30m``; None if ``text`` is not numbers with units."""
    matched = _DURATION.fullmatch(text)
    if matched is None:
        return None
    found = {unit: value for unit, value in matched.groupdict().items() if value is not None}
    return found or None


def _checked(seconds: float, text: object) -> float:
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"a duration must be a finite number, got {text!r}")
    if seconds < 0:
        raise ValueError(f"a duration must not be negative, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """``seconds`` the way a scenario would write it: ``90s`` → ``1m30s``, ``604800`` → ``7d``."""
    if not math.isfinite(seconds) or seconds < 0 or seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    parts = []
    for unit, size in _UNITS.items():
        amount, rest = divmod(rest, int(size))
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def _duration(value: Any) -> float:
    if value is None:
        raise ValueError("empty: give a duration, like 90s or 5m")
    return parse_duration(value)


def _duration_range(value: Any) -> Any:
    return parse_duration_range(value) if isinstance(value, str) else value


_DURATION_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "number", "minimum": 0},
            {
                "type": "string",
                "pattern": r"^\s*(\d+(\.\d*)?|\.\d+)?\s*(([0-9.]+\s*[dhms]\s*)+)?$",
            },
        ],
        "description": "seconds, or numbers with units d, h, m, s, largest first (90s, 1h30m)",
    }
)
Duration = Annotated[float, BeforeValidator(_duration), _DURATION_SCHEMA]
"""A field of seconds, given as seconds or as text like ``5m`` (:func:`parse_duration`)."""
OptionalDuration = Annotated[float | None, BeforeValidator(_duration)]
"""Optional as a field (default None), but a value given must be a duration."""
DurationRange = Annotated[Range, BeforeValidator(_duration_range)]
"""A :class:`Range` of seconds, given as ``MIN:MAX`` text (``30m:2h``)."""
