"""When it is dark: dusk and dawn from the sun's declination, for lights that follow them.

Pure maths, no I/O and no clock: time is always passed in. Accurate to a few minutes, which
is all a photocell needs:

- the sun's declination follows the usual cosine approximation of the day of the year;
- solar noon is taken to be 12:00 on the local clock. The community's longitude is unknown
  (a time zone spans ~15° of it), so the offset of up to about an hour between clock noon
  and solar noon, the equation of time (±16 min) and daylight saving are all ignored;
- "dark" means the sun's centre is more than :data:`LIGHTS_ON_ALTITUDE` below the horizon:
  lights switch on some ten to fifteen minutes after sunset (half-way into civil twilight)
  and off as long before sunrise.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo

DEFAULT_LATITUDE = 31.2
"""Latitude of the simulated community in degrees north (south is negative): Shanghai's,
a typical setting for a large residential community. Only dusk and dawn depend on it."""

LIGHTS_ON_ALTITUDE = -3.0
"""Sun altitude (degrees) below which it counts as dark: sunset is at -0.833° (refraction
and the sun's radius), the end of civil twilight at -6°."""

_TILT = 23.44  # the earth's axial tilt, degrees


def declination(day_of_year: int) -> float:
    """The sun's declination in degrees on ``day_of_year`` (1 = 1 January)."""
    return -_TILT * math.cos(2.0 * math.pi / 365.0 * (day_of_year + 10))


def half_day(
    day_of_year: int, latitude: float = DEFAULT_LATITUDE, altitude: float = LIGHTS_ON_ALTITUDE
) -> float:
    """Hours from solar noon until the sun sinks to ``altitude`` (the same before noon).

    0 when it never rises that high that day (polar night), 12 when it never sinks that
    low (midnight sun).
    """
    phi = math.radians(latitude)
    delta = math.radians(declination(day_of_year))
    denominator = math.cos(phi) * math.cos(delta)
    if abs(denominator) < 1e-12:  # at a pole: the sun circles at a constant altitude
        return 12.0 if math.sin(phi) * math.sin(delta) > math.sin(math.radians(altitude)) else 0.0
    cos_omega = (math.sin(math.radians(altitude)) - math.sin(phi) * math.sin(delta)) / denominator
    if cos_omega >= 1.0:
        return 0.0
    if cos_omega <= -1.0:
        return 12.0
    return math.degrees(math.acos(cos_omega)) / 15.0


def dawn_and_dusk(
    day_of_year: int, latitude: float = DEFAULT_LATITUDE, altitude: float = LIGHTS_ON_ALTITUDE
) -> tuple[float, float]:
    """Local clock hours (0-24) when it gets light and when it gets dark on ``day_of_year``."""
    half = half_day(day_of_year, latitude, altitude)
    return 12.0 - half, 12.0 + half


def dark_at(hour: float, half: float) -> bool:
    """Whether local clock ``hour`` is dark on a day whose :func:`half_day` is ``half``."""
    if half <= 0.0:
        return True
    return abs(hour - 12.0) > half


def local_hour(now: float, tz: tzinfo | None = None) -> tuple[float, int]:
    """Local clock hour (fractional, 0-24) and day of the year at unix time ``now``
    in ``tz`` (None: UTC)."""
    moment = datetime.fromtimestamp(now, tz or UTC)
    hour = moment.hour + moment.minute / 60.0 + (moment.second + moment.microsecond / 1e6) / 3600.0
    return hour, moment.timetuple().tm_yday


def is_dark(
    now: float,
    tz: tzinfo | None = None,
    latitude: float = DEFAULT_LATITUDE,
    altitude: float = LIGHTS_ON_ALTITUDE,
) -> bool:
    """Whether it is dark at unix time ``now`` (local clock of ``tz``; None: UTC)."""
    hour, day = local_hour(now, tz)
    return dark_at(hour, half_day(day, latitude, altitude))
