"""Daily rhythms of the community — commuter traffic, water demand, EV arrivals, the
temperature swing — and the random draw that turns an expected count into events."""

from __future__ import annotations

import math
import random
from typing import Final

HOUR: Final = 3600.0
DAY: Final = 86400.0
YEAR: Final = 365.0 * DAY


# --- daily rhythms ------------------------------------------------------------------------


def _bump(hour: float, centre: float, width: float) -> float:
    """A gaussian bump around ``centre`` (hours), wrapping round midnight."""
    distance = (hour - centre + 12.0) % 24.0 - 12.0
    return math.exp(-0.5 * (distance / width) ** 2)


def _traffic_shape(hour: float) -> float:
    return (
        0.03
        + 1.0 * _bump(hour, 8.25, 0.6)  # morning rush, 07:30-09:00
        + 0.85 * _bump(hour, 18.25, 0.7)  # evening rush, 17:30-19:00
        + 0.3 * _bump(hour, 13.0, 2.6)  # errands, deliveries, school run
        + 0.12 * _bump(hour, 21.0, 1.5)  # evening out and back
    )


def _demand_shape(hour: float) -> float:
    return (
        0.12
        + 0.85 * _bump(hour, 7.25, 1.0)  # morning showers
        + 0.3 * _bump(hour, 12.0, 1.2)  # lunch
        + 0.75 * _bump(hour, 19.75, 1.4)  # cooking, baths, laundry
    )


_GRID = [minute / 60.0 for minute in range(24 * 60)]
_TRAFFIC_PEAK: Final = max(_traffic_shape(h) for h in _GRID)
_TRAFFIC_DAILY: Final = sum(_traffic_shape(h) for h in _GRID) / 60.0 / _TRAFFIC_PEAK
"""Hours at peak rate that one day's traffic adds up to."""
_DEMAND_PEAK: Final = max(_demand_shape(h) for h in _GRID)


def commuter_traffic(hour: float, peak: float = 1.0) -> float:
    """Passages per hour at local ``hour`` for a gate whose morning rush brings ``peak`` an
    hour: a double peak (07:30-09:00 and 17:30-19:00), a moderate midday, a quiet night
    (3 % of the peak). A day adds up to about 5.5 hours at the peak rate."""
    return peak * _traffic_shape(hour) / _TRAFFIC_PEAK


def expected_passages(hour: float, dt: float, peak: float) -> float:
    """How many :func:`commuter_traffic` passages to expect in the ``dt`` seconds that end
    at local ``hour`` (whole days at the daily total, the rest hour by hour)."""
    days, rest = divmod(max(0.0, dt), DAY)
    total = days * peak * _TRAFFIC_DAILY
    while rest > 0.0:
        chunk = min(rest, HOUR)
        total += commuter_traffic(hour - (rest - 0.5 * chunk) / HOUR, peak) * chunk / HOUR
        rest -= chunk
    return total


def water_demand(hour: float) -> float:
    """Relative water demand (0-1) at local ``hour``: morning (~07:15) and evening (~19:45)
    peaks, lunch, and a low night (about an eighth of the peak)."""
    return _demand_shape(hour) / _DEMAND_PEAK


def ev_arrivals(hour: float) -> float:
    """Cars arriving per hour at a free residential charging point at local ``hour``:
    mostly on the way home (17:00-21:00), a few by day, hardly any at night."""
    return 0.01 + 0.4 * _bump(hour, 19.0, 1.6) + 0.03 * _bump(hour, 11.0, 2.5)


def diurnal(hour: float, low: float = 5.0, high: float = 15.0) -> float:
    """The daily temperature swing in [-1, 1]: -1 at ``low`` o'clock (before dawn), 1 at
    ``high`` o'clock (mid afternoon), half-cosines in between."""
    h = hour % 24.0
    rise = (high - low) % 24.0 or 24.0
    since_low = (h - low) % 24.0
    if since_low < rise:
        return -math.cos(math.pi * since_low / rise)
    return math.cos(math.pi * (since_low - rise) / (24.0 - rise))


def _busy(hour: float) -> float:
    """Traffic as a swing in [-1, 1] (-1 at night, 1 at the morning rush)."""
    return 2.0 * commuter_traffic(hour) - 1.0


def _demand_dip(hour: float) -> float:
    """The drop of a mains pressure with demand, in [-1, 0]."""
    return -water_demand(hour)


# --- random pieces ------------------------------------------------------------------------


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw: how many events happen in an interval that expects ``mean``."""
    if mean <= 0.0:
        return 0
    if mean > 30.0:
        return max(0, int(rng.gauss(mean, math.sqrt(mean)) + 0.5))
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
