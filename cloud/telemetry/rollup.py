"""Roll-ups: raw readings, or finer roll-ups, summed up per bucket of ``step`` seconds.

Readings arrive on change and on the heartbeat, not at a fixed rate, so a state metric's
plain mean over its readings says little: a lamp reported ``on`` once at dusk and ``off``
once at dawn was on for twelve hours, not half of two readings. A state metric (a boolean or
a text) is therefore rolled up by the share of time each value held — the value in force
when the bucket began counts until the first reading, each reading's value until the next,
the last one until the bucket's end (or until now) — and a bucket with no reading at all
still has the share of the value in force. Numbers are rolled up by count, min, max and mean
of their readings, in buckets that have readings.

Buckets are aligned to the epoch: a minute bucket starts at a whole minute (UTC), an hour
bucket at a whole hour. Both functions take the points of any number of devices and
metrics and return roll-ups ordered by device, metric and bucket start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cloud.telemetry.store import RawPoint, Rollup, Value
from plumbing.pacing import unpaced

_PACE_EVERY = 255
"""The loops call their pace once every 256 readings or series (a mask)."""

InForce = Mapping[tuple[int, str], Value]
"""For each (device, metric), the value in force when the rolled-up span began."""


def is_state(value: Value) -> bool:
    """Whether a value is a state (a boolean or a text) rather than a number."""
    return isinstance(value, bool | str)


def state_key(value: Value) -> str:
    """A state value as the key of its share: ``true``, ``false``, or the text itself."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def bucket_start(moment: float, step: int) -> float:
    """The start (seconds since 1970) of the bucket of ``step`` seconds holding ``moment``."""
    return moment - moment % step


@dataclass
class _Bucket:
    count: int = 0
    low: float | None = None
    high: float | None = None
    total: float = 0.0
    numbers: int = 0
    held: dict[str, float] = field(default_factory=dict)
    covered: float = 0.0
    last: Value | None = None

    def number(self, value: float, weight: int = 1) -> None:
        self.numbers += weight
        self.total += value * weight
        self.low = value if self.low is None or value < self.low else self.low
        self.high = value if self.high is None or value > self.high else self.high


class _Series:
    """The buckets of one (device, metric) under construction."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.buckets: dict[float, _Bucket] = {}

    def at(self, moment: float) -> _Bucket:
        start = bucket_start(moment, self.step)
        bucket = self.buckets.get(start)
        if bucket is None:
            bucket = self.buckets[start] = _Bucket()
        return bucket

    def hold(self, value: Value, begin: float, end: float) -> None:
        """``value`` was in force from ``begin`` to ``end``: its time, bucket by bucket."""
        key = state_key(value)
        moment = begin
        while moment < end:
            bucket = self.at(moment)
            until = min(end, bucket_start(moment, self.step) + self.step)
            bucket.held[key] = bucket.held.get(key, 0.0) + (until - moment)
            bucket.covered += until - moment
            bucket.last = value
            moment = until

    def rollups(self, device_pk: int, metric: str) -> list[Rollup]:
        found = []
        for start in sorted(self.buckets):
            bucket = self.buckets[start]
            rollup = Rollup(
                device_pk=device_pk,
                metric=metric,
                start=datetime.fromtimestamp(start, UTC),
                step=self.step,
                count=bucket.count,
                covered=bucket.covered,
                last=bucket.last,
            )
            if bucket.numbers:
                rollup.min, rollup.max = bucket.low, bucket.high
                rollup.mean = bucket.total / bucket.numbers
            if bucket.held and bucket.covered > 0:
                rollup.shares = {k: v / bucket.covered for k, v in sorted(bucket.held.items())}
            found.append(rollup)
        return found


def roll_readings(
    points: Iterable[RawPoint],
    step: int,
    start: datetime,
    until: datetime,
    in_force: InForce | None = None,
    metrics: Sequence[str] | None = None,
    pace: Callable[[], None] = unpaced,
) -> list[Rollup]:
    """Roll raw readings with ``start <= ts < until`` up into buckets of ``step`` seconds.

    ``in_force`` gives the state values in force at ``start``; a state metric's time counts
    up to ``until`` (the end of the span, or now). ``metrics`` keeps only those metrics.
    ``pace`` is called every few hundred readings and series (:class:`plumbing.pacing.Pacer`
    for a background thread beside ingest)."""
    begin, end = start.timestamp(), until.timestamp()
    by_series: dict[tuple[int, str], list[tuple[float, Value]]] = {}
    for n, point in enumerate(points):
        if not n & _PACE_EVERY:
            pace()
        moment = point.ts.timestamp()
        if not begin <= moment < end:
            continue
        for metric, value in point.metrics.items():
            if metrics is None or metric in metrics:
                by_series.setdefault((point.device_pk, metric), []).append((moment, value))
    for key, value in (in_force or {}).items():
        if is_state(value) and (metrics is None or key[1] in metrics):
            by_series.setdefault(key, [])
    found: list[Rollup] = []
    for n, ((device_pk, metric), values) in enumerate(sorted(by_series.items())):
        if not n & _PACE_EVERY:
            pace()
        values.sort(key=lambda pair: pair[0])
        series = _Series(step)
        held = (in_force or {}).get((device_pk, metric))
        since = begin
        for moment, value in values:
            bucket = series.at(moment)
            bucket.count += 1
            if is_state(value):
                if held is not None and is_state(held):
                    series.hold(held, since, moment)
                held, since = value, moment
            else:
                bucket.number(float(value))
                bucket.last = value
        if held is not None and is_state(held):
            series.hold(held, since, end)
        found.extend(series.rollups(device_pk, metric))
    return found


def combine(
    finer: Iterable[Rollup],
    step: int,
    start: datetime,
    until: datetime,
    in_force: InForce | None = None,
    pace: Callable[[], None] = unpaced,
) -> list[Rollup]:
    """Roll finer roll-ups (minutes) with ``start <= bucket start < until`` up into buckets
    of ``step`` seconds (a multiple of theirs).

    A finer roll-up exists only where readings fell, so a state metric's gaps between them
    hold the value the previous one ended with (or the one ``in_force`` at ``start``)."""
    begin, end = start.timestamp(), until.timestamp()
    by_series: dict[tuple[int, str], list[Rollup]] = {}
    for rollup in finer:
        if begin <= rollup.start.timestamp() < end:
            by_series.setdefault((rollup.device_pk, rollup.metric), []).append(rollup)
    for key, value in (in_force or {}).items():
        if is_state(value):
            by_series.setdefault(key, [])
    found: list[Rollup] = []
    for n, ((device_pk, metric), rollups) in enumerate(sorted(by_series.items())):
        if not n & _PACE_EVERY:
            pace()
        rollups.sort(key=lambda rollup: rollup.start)
        series = _Series(step)
        held = (in_force or {}).get((device_pk, metric))
        since = begin
        for rollup in rollups:
            first = rollup.start.timestamp()
            if held is not None and is_state(held) and first > since:
                series.hold(held, since, first)
            bucket = series.at(first)
            bucket.count += rollup.count
            if rollup.mean is not None and rollup.min is not None and rollup.max is not None:
                bucket.number(rollup.min, 0)
                bucket.number(rollup.max, 0)
                bucket.number(rollup.mean, rollup.count)
            if rollup.shares is not None:
                for value, share in rollup.shares.items():
                    bucket.held[value] = bucket.held.get(value, 0.0) + share * rollup.covered
                bucket.covered += rollup.covered
            if rollup.last is not None:
                bucket.last = rollup.last
                held = rollup.last
            since = min(first + rollup.step, end)
        if held is not None and is_state(held) and since < end:
            series.hold(held, since, end)
        found.extend(series.rollups(device_pk, metric))
    return found
