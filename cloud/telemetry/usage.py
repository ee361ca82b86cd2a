"""A device's use over a period, read from the telemetry store's roll-ups: the uses its
counter counted, or the time its state meant in use (the definitions are
:mod:`cloud.telemetry.utilisation`'s).

**What is read.** The period is taken to the minute — to the hour where minute roll-ups have
expired — by :func:`plan`: whole hours that were rolled up come from hour roll-ups, the rest
(the edges, the hour under way) from minute roll-ups; so a month of a device is some 720
rows, never its raw readings. Each device is read on its own (:meth:`TelemetryStore.rollups`
per device and piece), and the values in force when the period starts for all of them at once
(:meth:`TelemetryStore.values_in_force`).

**States** come exactly from the roll-ups: a bucket holds the time each value held (its
``shares`` of ``covered``), counting the value in force when it began, and a gap between
buckets holds the value the bucket before ended with. The latest value holds on only to
``until`` (the device's silence span after its latest reading): the part of a bucket after it
held the bucket's last value, and is taken off.

**Counters**: a bucket's increase is its last value less the last value before it. A bucket
whose lowest value is below the one before, or whose last value is below its highest, shows
that the counter restarted in it: it is read again from its finer data — an hour from its
minutes, a minute from its raw readings — while those are kept, which counts exactly.
Past their retention the bucket is estimated as the rise to its highest value before the
restart plus its last value (counted from 0): exact when the counter restarted once and
stayed below its earlier highest value. A restart that a bucket does not show — the counter
never went below the value before the bucket, and climbed back past its earlier highest
within it — counts as no restart (a replaced controller counting again from 0 shows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from cloud.telemetry.rollup import state_key
from cloud.telemetry.store import HOUR, MINUTE, RAW, Rollup, TelemetryStore, Value
from cloud.telemetry.upkeep import LOOKBACK, Retention

SETTLING = timedelta(minutes=5)
"""How long after an hour ends its hour roll-up may still be on its way: its minutes stand
in until then."""

Finer = Callable[[Rollup], Sequence[Rollup] | None]
"""A bucket's finer data (its minutes, a minute's raw readings as buckets of one), or None
where that is no longer kept."""


@dataclass(frozen=True)
class Meter:
    """One device's measure of use, as its profile's ``usage`` gives it."""

    device_pk: int
    facility_id: int
    profile_id: str
    device_type: str
    metric: str
    value: Value | None = None
    """the state's value that means in use; None: ``metric`` is a counter"""
    description: str = ""
    silence_s: float = 0.0
    """how long after its latest reading the device's state still counts"""
    last_ts: datetime | None = None
    """the event time of its latest reading"""

    @property
    def counter(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Used:
    """One device's use in the period."""

    uses: float = 0.0
    """a counter's uses"""
    in_use_s: float = 0.0
    """a state's time in use, in seconds"""
    readings: int = 0
    """readings of the metric in the period"""


NOTHING = Used()


@dataclass(frozen=True)
class Plan:
    """The period as it is counted, and where each piece of it is read from."""

    start: datetime
    end: datetime
    pieces: tuple[tuple[int, datetime, datetime], ...]
    """``(step, start, end)``: roll-ups of ``step`` with ``start <= bucket start < end``, in
    time order"""
    in_force_step: int
    """the roll-ups that say which value was in force at ``start``"""


def _floor(moment: datetime, step: int) -> datetime:
    seconds = moment.timestamp()
    return datetime.fromtimestamp(seconds - seconds % step, UTC)


def _ceil(moment: datetime, step: int) -> datetime:
    floor = _floor(moment, step)
    return floor if floor == moment else floor + timedelta(seconds=step)


def plan(start: datetime, end: datetime, now: datetime, retention: Retention) -> Plan:
    """``[start, end)`` taken to the minute (to the hour where minute roll-ups have
    expired), and the pieces to read it from: hour roll-ups for the whole hours rolled up,
    minute roll-ups for the rest."""
    minutes_kept = now - retention.minutes
    start = _floor(start, MINUTE if start >= minutes_kept else HOUR)
    end = max(_floor(end, MINUTE if end >= minutes_kept else HOUR), start)
    in_force = MINUTE if start >= minutes_kept else HOUR
    if end == start:
        return Plan(start, end, (), in_force)
    first_hour = _ceil(start, HOUR)
    rolled = min(_floor(end, HOUR), _floor(now - SETTLING, HOUR))
    if rolled <= first_hour:
        return Plan(start, end, ((MINUTE, start, end),), in_force)
    pieces = [(MINUTE, start, first_hour)] if start < first_hour else []
    pieces.append((HOUR, first_hour, rolled))
    if rolled < end:
        pieces.append((MINUTE, rolled, end))
    return Plan(start, end, tuple(pieces), in_force)


def _number(value: Value | None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def restarted(bucket: Rollup, before: float | None) -> bool:
    """Whether a counter's bucket shows that it restarted: a value below the one before
    it, or a last value below its highest."""
    last = _number(bucket.last)
    assert last is not None and bucket.min is not None and bucket.max is not None
    return last < bucket.max or (before is not None and bucket.min < before)


def increase(bucket: Rollup, before: float | None) -> float:
    """The uses a counter's bucket counted after ``before`` (its last value before the
    bucket; None: none known, and the bucket's first reading counts nothing). Exact unless
    it :func:`restarted`; then estimated (see the module's docstring)."""
    last = _number(bucket.last)
    assert last is not None and bucket.min is not None and bucket.max is not None
    if not restarted(bucket, before):
        return last - (bucket.min if before is None else before)
    high = bucket.max
    rise = high - before if before is not None and high > last and high >= before else 0.0
    return last + rise


def counter_uses(
    buckets: Iterable[Rollup], before: float | None, finer: Finer | None = None
) -> tuple[float, float | None, int]:
    """A counter's uses over its ``buckets`` (in time order) after ``before``; its last value
    and the readings counted. A bucket that shows a restart is counted from its ``finer``
    data where that is kept (and agrees with it)."""
    total = 0.0
    readings = 0
    for bucket in buckets:
        last = _number(bucket.last)
        if last is None or bucket.min is None or bucket.max is None:
            continue
        readings += bucket.count
        if bucket.count > 1 and finer is not None and restarted(bucket, before):
            parts = finer(bucket)
            if (
                parts
                and _number(parts[-1].last) == last
                and sum(part.count for part in parts) == bucket.count
            ):
                total += counter_uses(parts, before, finer)[0]
                before = last
                continue
        total += increase(bucket, before)
        before = last
    return total, before, readings


def state_seconds(
    buckets: Iterable[Rollup],
    in_force: Value | None,
    value: Value,
    start: datetime,
    end: datetime,
    until: datetime,
) -> float:
    """The seconds of ``[start, min(end, until))`` in which a state metric was ``value``,
    from its ``buckets`` (in time order, within the period) and the value ``in_force`` at
    ``start``. ``until`` ends the time of the latest value: no reading comes after it."""
    key = state_key(value)
    limit = min(end, until).timestamp()

    def holds(state: Value | None) -> bool:
        return state is not None and state_key(state) == key

    total = 0.0
    moment = start.timestamp()
    held = in_force
    for bucket in buckets:
        first = bucket.start.timestamp()
        stop = first + bucket.step
        if holds(held):
            total += max(0.0, min(first, limit) - moment)
        share = (bucket.shares or {}).get(key, 0.0) * bucket.covered
        if holds(bucket.last) and limit < stop:  # the latest value, held on past ``until``
            share -= stop - max(limit, first)
        total += max(share, 0.0)
        if bucket.last is not None:
            held = bucket.last
        moment = max(moment, stop)
    if holds(held):
        total += max(0.0, limit - moment)
    return total


class UsageReader:
    """Reads devices' use over a period from a telemetry store, as of ``now``."""

    def __init__(self, store: TelemetryStore, retention: Retention, now: datetime) -> None:
        self._store = store
        self._retention = retention
        self._now = now

    def plan(self, start: datetime, end: datetime) -> Plan:
        return plan(start, end, self._now, self._retention)

    def read(self, meters: Sequence[Meter], period: Plan) -> dict[int, Used]:
        """Each device's use over the planned period, by device."""
        if not meters or not period.pieces:
            return {}
        store = self._store
        in_force = store.values_in_force(
            period.in_force_step,
            [meter.device_pk for meter in meters],
            period.start,
            period.start - LOOKBACK,
        )
        found: dict[int, Used] = {}
        for meter in meters:
            buckets = [
                bucket
                for step, first, last in period.pieces
                for bucket in store.rollups(meter.device_pk, meter.metric, step, first, last)
            ]
            before = in_force.get((meter.device_pk, meter.metric))
            if meter.value is None:
                finer = partial(self._finer, meter)
                uses, _, readings = counter_uses(buckets, _number(before), finer)
                found[meter.device_pk] = Used(uses=uses, readings=readings)
            else:
                until = self._until(meter, period)
                seconds = state_seconds(
                    buckets, before, meter.value, period.start, period.end, until
                )
                readings = sum(bucket.count for bucket in buckets)
                found[meter.device_pk] = Used(in_use_s=seconds, readings=readings)
        return found

    def _until(self, meter: Meter, period: Plan) -> datetime:
        """Up to when the device's latest value holds: now, or, if it was last heard
        before the period's end, its silence span after that."""
        if meter.last_ts is None or meter.last_ts >= period.end:
            return self._now
        return min(self._now, meter.last_ts + timedelta(seconds=meter.silence_s))

    def _finer(self, meter: Meter, bucket: Rollup) -> list[Rollup] | None:
        store, now = self._store, self._now
        end = bucket.start + timedelta(seconds=bucket.step)
        if bucket.step == HOUR and bucket.start >= now - self._retention.minutes:
            return store.rollups(meter.device_pk, meter.metric, MINUTE, bucket.start, end)
        if bucket.step == MINUTE and bucket.start >= now - self._retention.raw:
            readings = store.series(
                meter.device_pk, meter.profile_id, meter.metric, bucket.start, end
            )
            return [
                Rollup(meter.device_pk, meter.metric, ts, RAW, 1, v, v, v, last=v)
                for ts, raw in readings
                if (v := _number(raw)) is not None
            ]
        return None
