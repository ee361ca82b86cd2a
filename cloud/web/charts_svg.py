"""Line charts drawn as SVG on the server: one metric of one device over a span, for the
manager dashboard (no chart library, no script).

A chart is a sequence of points ``(moment, value)``; a ``None`` value — a bucket without
readings — breaks the line, and so does a step between two points longer than ``gap_s``
(the data stopped coming). Numbers and moments are written by formatters the caller gives
(the viewer's language); the chart has a ``<title>`` and an ``aria-label`` for screen
readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

Point = tuple[datetime, float | None]

WIDTH = 640
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
"""The margins around the plot: room for the axes' labels."""


@dataclass(frozen=True)
class Scale:
    """A linear map of ``[low, high]`` onto ``[start, end]`` (pixels)."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        if self.high == self.low:
            return (self.start + self.end) / 2
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (1, 2 or 5 times a power of ten apart) covering
    ``[low, high]``: the first at or below ``low``, the last at or above ``high``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    if high == low:  # a flat line: a unit around it
        spread = abs(low) / 10 or 1.0
        low, high = low - spread, high + spread
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    n = round((last - first) / step)
    return [_tidy(first + i * step) for i in range(n + 1)]


def _tidy(value: float) -> float:
    """``value`` without the float noise of adding steps (0.30000000000000004 → 0.3)."""
    return float(f"{value:.12g}")


def segments(points: Sequence[Point], gap_s: float | None = None) -> list[list[Point]]:
    """The unbroken runs of ``points`` (in time order): a ``None`` value or a step longer
    than ``gap_s`` ends one."""
    runs: list[list[Point]] = []
    current: list[Point] = []
    for moment, value in sorted(points, key=lambda p: p[0]):
        if value is None or math.isnan(value):  # NaN is a gap too
            if current:
                runs.append(current)
            current = []
            continue
        if current and gap_s is not None and (moment - current[-1][0]).total_seconds() > gap_s:
            runs.append(current)
            current = []
        current.append((moment, value))
    if current:
        runs.append(current)
    return runs


def line_chart(
    points: Sequence[Point],
    *,
    start: datetime,
    end: datetime,
    title: str,
    number: Callable[[float], str],
    moment: Callable[[datetime], str],
    empty: str = "No data in this period",
    gap_s: float | None = None,
    fixed: tuple[float, float] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """``points`` between ``start`` and ``end`` as an SVG line chart titled ``title``: its
    value axis from round numbers around the values (or ``fixed``), its time axis with five
    moments; ``empty`` written across it when no point has a value."""
    runs = segments(points, gap_s)
    values = [v for run in runs for _, v in run if v is not None]
    if fixed is not None:
        ticks = nice_ticks(*fixed)
    elif values:
        ticks = nice_ticks(min(values), max(values))
    else:
        ticks = [0.0, 1.0]
    x = Scale(start.timestamp(), end.timestamp(), LEFT, width - RIGHT)
    y = Scale(ticks[0], ticks[-1], height - BOTTOM, TOP)
    count = sum(len(run) for run in runs)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'aria-label="{escape(title)}" data-points="{count}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{width - LEFT - RIGHT}" '
        f'height="{height - TOP - BOTTOM}" fill="#fff" stroke="#ccd"/>',
    ]
    for tick in ticks:  # the value axis: grid lines and their numbers
        ty = _px(y(tick))
        parts.append(
            f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{ty}" y2="{ty}" stroke="#e4e6eb"/>'
            f'<text x="{LEFT - 6}" y="{ty}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="11" fill="#444">{escape(number(tick))}</text>'
        )
    span = end.timestamp() - start.timestamp()
    for i in range(5):  # the time axis: five moments
        at = start.timestamp() + span * i / 4
        tx = _px(x(at))
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        label = moment(datetime.fromtimestamp(at, start.tzinfo))
        parts.append(
            f'<text x="{tx}" y="{height - 8}" text-anchor="{anchor}" font-size="11" '
            f'fill="#444">{escape(label)}</text>'
        )
    for run in runs:
        coordinates = " ".join(
            f"{_px(x(t.timestamp()))},{_px(y(v))}" for t, v in run if v is not None
        )
        if len(run) == 1:
            cx, cy = coordinates.split(",")
            parts.append(f'<circle class="series" cx="{cx}" cy="{cy}" r="2.5" fill="#1f5fbf"/>')
        else:
            parts.append(
                f'<polyline class="series" points="{coordinates}" fill="none" '
                f'stroke="#1f5fbf" stroke-width="2" stroke-linejoin="round"/>'
            )
    if not runs:
        parts.append(
            f'<text x="{(LEFT + width - RIGHT) / 2}" y="{(TOP + height - BOTTOM) / 2}" '
            f'text-anchor="middle" font-size="13" fill="#555">{escape(empty)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _px(value: float) -> str:
    """A coordinate, to a tenth of a pixel."""
    return f"{value:.1f}".rstrip("0").rstrip(".")
