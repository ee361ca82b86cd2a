"""A chart's series: one metric of one device over a span, at the resolution the span wants.

The finest data that still covers the span's start and gives at most :data:`MAX_POINTS`
buckets is read: raw readings for a short span (the store's ``raw_span_s``) that raw
retention still covers, else 1-minute roll-ups, else 1-hour ones. Asked for a ``step``, the
series comes in buckets of that step (rounded up to a multiple of what it is built from);
without one, raw readings come as they are and longer spans in the nicest step that keeps
within :data:`MAX_POINTS`. Buckets are aligned to the epoch, so the first one may begin
before ``start``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cloud.telemetry.rollup import combine, roll_readings
from cloud.telemetry.store import HOUR, MINUTE, RAW, RawPoint, Rollup, TelemetryStore, Value
from cloud.telemetry.upkeep import LOOKBACK, Retention

MAX_POINTS = 1440
NICE_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
"""Steps chosen when none is asked for (a longer span takes whole days)."""

Kind = Literal["number", "state"]


@dataclass(frozen=True)
class Series:
    resolution: int
    """what the series was built from: :data:`RAW`, :data:`MINUTE` or :data:`HOUR`"""
    step: int | None
    """the buckets' width in seconds; None for raw readings as they are"""
    readings: list[tuple[datetime, Value]]
    """raw readings (when ``step`` is None)"""
    buckets: list[Rollup]
    """buckets (when ``step`` is given)"""


def nice_step(span_s: float) -> int:
    """The smallest step of :data:`NICE_STEPS` (or whole days) keeping ``span_s`` within
    :data:`MAX_POINTS` buckets."""
    wanted = span_s / MAX_POINTS
    for step in NICE_STEPS:
        if step >= wanted:
            return step
    return math.ceil(wanted / 86400) * 86400


def _aligned(moment: datetime, step: int) -> datetime:
    seconds = moment.timestamp()
    return datetime.fromtimestamp(seconds - seconds % step, UTC)


class Charts:
    """Series for charts, from one telemetry store."""

    def __init__(self, store: TelemetryStore, retention: Retention) -> None:
        self._store = store
        self._retention = retention

    def series(
        self,
        device_pk: int,
        profile_id: str,
        metric: str,
        start: datetime,
        end: datetime,
        step: int | None,
        now: datetime,
    ) -> Series:
        store = self._store
        span = (end - start).total_seconds()
        raw_kept = start >= now - self._retention.raw
        if raw_kept and span <= store.raw_span_s and (step is None or step < MINUTE):
            readings = store.series(device_pk, profile_id, metric, start, end)
            if step is None:
                return Series(RAW, None, readings, [])
            first = _aligned(start, step)
            if first < start:
                readings = store.series(device_pk, profile_id, metric, first, start) + readings
            in_force = store.values_in_force(MINUTE, [device_pk], first, first - LOOKBACK)
            points = [RawPoint(device_pk, profile_id, ts, {metric: v}) for ts, v in readings]
            until = min(end, now)
            return Series(RAW, step, [], roll_readings(points, step, first, until, in_force))
        wanted = step if step is not None else nice_step(span)
        base = HOUR
        if wanted < HOUR and start >= now - self._retention.minutes:
            base = MINUTE
        wanted = max(base, math.ceil(wanted / base) * base)
        first = _aligned(start, wanted)
        until = min(end, now)
        finer = store.rollups(device_pk, metric, base, first, until)
        if base == HOUR:  # the hour under way is not rolled up yet: its minutes stand in
            under_way = max(_aligned(now, HOUR), first)
            if until > under_way and under_way >= now - self._retention.minutes:
                finer = [r for r in finer if r.start < under_way]
                finer += store.rollups(device_pk, metric, MINUTE, under_way, until)
        in_force = store.values_in_force(base, [device_pk], first, first - LOOKBACK)
        return Series(base, wanted, [], combine(finer, wanted, first, until, in_force))
