"""A device's use read from roll-ups (:mod:`cloud.telemetry.usage`): the period taken to the
minute and split into hour and minute pieces; a counter's increase with restarts and gaps,
read again from finer data where a bucket shows a restart; a state's time from the value in
force at the start, held on to the device's silence. Each is checked against the definition
worked reading by reading."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from cloud.telemetry.rollup import combine, roll_readings
from cloud.telemetry.store import HOUR, MINUTE, RAW, RawPoint, Rollup, Value
from cloud.telemetry.upkeep import Retention
from cloud.telemetry.usage import counter_uses, increase, plan, state_seconds

D0 = datetime(2026, 6, 1, tzinfo=UTC)
DAY = D0 + timedelta(days=1)
DEVICE = 5
KEPT = Retention(raw=timedelta(days=30), minutes=timedelta(days=90), hours=timedelta(days=1825))


def at(hours: float) -> datetime:
    return D0 + timedelta(hours=hours)


# -- the period --------------------------------------------------------------------------------


def test_a_past_day_is_read_from_its_hours() -> None:
    found = plan(D0, DAY, DAY + timedelta(days=2), KEPT)
    assert (found.start, found.end, found.in_force_step) == (D0, DAY, MINUTE)
    assert found.pieces == ((HOUR, D0, DAY),)


def test_edges_inside_hours_are_read_from_minutes_and_taken_to_the_minute() -> None:
    start = at(10) + timedelta(minutes=20, seconds=30)
    end = at(14) + timedelta(minutes=45, seconds=10)
    found = plan(start, end, DAY, KEPT)
    assert (found.start, found.end) == (at(10) + timedelta(minutes=20), at(14.75))
    assert found.pieces == (
        (MINUTE, found.start, at(11)),
        (HOUR, at(11), at(14)),
        (MINUTE, at(14), at(14.75)),
    )


def test_the_hour_under_way_and_one_just_ended_come_from_minutes() -> None:
    now = at(15) + timedelta(minutes=3, seconds=20)
    found = plan(at(9), now, now, KEPT)
    assert found.end == at(15) + timedelta(minutes=3)
    # 15:00 is under way; 14:00 ended three minutes ago and may not be rolled up yet
    assert found.pieces == ((HOUR, at(9), at(14)), (MINUTE, at(14), found.end))
    within = plan(at(15), now, now, KEPT)
    assert within.pieces == ((MINUTE, at(15), within.end),)


def test_where_minutes_expired_the_period_is_taken_to_the_hour() -> None:
    now = D0 + timedelta(days=100)
    found = plan(at(10.5), at(20.5), now, KEPT)
    assert (found.start, found.end, found.in_force_step) == (at(10), at(20), HOUR)
    assert found.pieces == ((HOUR, at(10), at(20)),)


def test_an_empty_period_has_nothing_to_read() -> None:
    assert plan(at(5), at(5) + timedelta(seconds=30), DAY, KEPT).pieces == ()
    assert plan(at(5), at(4), DAY, KEPT).pieces == ()


# -- counters --------------------------------------------------------------------------------


def uses_by_definition(values: Sequence[float], before: float | None) -> float:
    """Each reading's increase over the one before; a lower value restarted from 0."""
    total = 0.0
    for value in values:
        if before is not None:
            total += value - before if value >= before else value
        before = value
    return total


def points(readings: Sequence[tuple[datetime, Value]], metric: str) -> list[RawPoint]:
    return [RawPoint(DEVICE, "p", ts, {metric: value}) for ts, value in readings]


def hours_and_finer(
    readings: Sequence[tuple[datetime, float]],
) -> tuple[list[Rollup], dict[tuple[int, datetime], list[Rollup]]]:
    """The counter's hour roll-ups, and the finer data of each bucket: an hour's minutes, a
    minute's raw readings as buckets of one (as the reader makes them)."""
    minutes = roll_readings(points(readings, "n"), MINUTE, D0, DAY)
    hours = combine(minutes, HOUR, D0, DAY)
    finer: dict[tuple[int, datetime], list[Rollup]] = {}
    for minute in minutes:
        hour = minute.start.replace(minute=0)
        finer.setdefault((HOUR, hour), []).append(minute)
    for ts, value in readings:
        raw = Rollup(DEVICE, "n", ts, RAW, 1, value, value, value, last=value)
        finer.setdefault((MINUTE, ts.replace(second=0, microsecond=0)), []).append(raw)
    return hours, finer


def test_a_counter_counts_its_increase_since_the_reading_before_the_period() -> None:
    readings = [(at(8), 1010.0), (at(12), 1100.0), (at(18), 1250.0), (at(23.9), 1260.0)]
    hours, _ = hours_and_finer(readings)
    assert counter_uses(hours, 1000.0) == (260.0, 1260.0, 4)
    # heard for the first time: its first reading is where it starts counting
    assert counter_uses(hours, None)[0] == 250.0


def test_a_gap_loses_nothing_its_uses_count_with_the_reading_after_it() -> None:
    """Silent from 02:00 to 20:00: the 500 passages meanwhile come with the 20:00 reading."""
    hours, _ = hours_and_finer([(at(1), 100.0), (at(2), 120.0), (at(20), 620.0)])
    assert [h.start for h in hours] == [at(1), at(2), at(20)]
    assert counter_uses(hours, 90.0)[0] == 530.0


def test_a_restart_counts_from_zero() -> None:
    """The lift's controller was replaced at 10:30: its trips start again from 0."""
    readings = [(at(7), 20040.0), (at(10), 20100.0), (at(10.5), 5.0), (at(14), 60.0)]
    hours, finer = hours_and_finer(readings)
    expected = uses_by_definition([v for _, v in readings], 20000.0)
    assert expected == 40 + 60 + 5 + 55
    assert counter_uses(hours, 20000.0)[0] == expected  # the estimate is exact here
    assert counter_uses(hours, 20000.0, lambda b: finer.get((b.step, b.start)))[0] == expected


def test_a_restart_hidden_in_a_bucket_is_read_again_from_finer_data() -> None:
    """Within one minute the counter went 110, restarted, and climbed past 110 to 150: the
    hour and the minute alone (min 3, max = last 150) cannot tell how far it rose before the
    restart; the minute's raw readings can."""
    minute = at(9.5)
    readings = [
        (at(9), 100.0),
        (minute + timedelta(seconds=5), 110.0),
        (minute + timedelta(seconds=20), 3.0),
        (minute + timedelta(seconds=50), 150.0),
    ]
    hours, finer = hours_and_finer(readings)
    assert uses_by_definition([v for _, v in readings], 90.0) == 10 + 10 + 3 + 147
    assert counter_uses(hours, 90.0)[0] == 150  # estimated: from 0 to 150, the rise before unseen
    exact = counter_uses(hours, 90.0, lambda b: finer.get((b.step, b.start)))
    assert exact == (170.0, 150.0, 4)


def test_a_restarted_bucket_is_estimated_as_the_rise_before_and_the_value_after() -> None:
    bucket = Rollup(DEVICE, "n", at(3), HOUR, 4, 2.0, 130.0, last=40.0)
    assert increase(bucket, 100.0) == 30 + 40  # up to 130, restarted, up to 40
    assert increase(bucket, 150.0) == 40  # below the value before: restarted first
    assert increase(bucket, None) == 40
    steady = Rollup(DEVICE, "n", at(4), HOUR, 3, 40.0, 55.0, last=55.0)
    assert (increase(steady, 40.0), increase(steady, None)) == (15, 15)


def test_finer_data_that_does_not_add_up_is_not_trusted() -> None:
    """Minutes partly expired (or not all rolled up) would count too little: the hour's
    estimate stands."""
    hours, finer = hours_and_finer([(at(3), 100.0), (at(3.2), 4.0), (at(3.4), 9.0)])
    partial = {key: parts[1:] for key, parts in finer.items()}
    assert counter_uses(hours, 90.0, lambda b: partial.get((b.step, b.start)))[0] == 10 + 9


@pytest.mark.parametrize("seed", range(20))
def test_counting_from_roll_ups_and_finer_data_is_the_definition(seed: int) -> None:
    """Restarts from a high count to a low one, as a replaced controller's: a bucket shows
    each (a restart the counter climbs back past within one bucket would not show)."""
    rng = random.Random(seed)
    value = float(rng.randrange(5000, 50000))
    before = value
    readings = []
    moment = D0 + timedelta(seconds=rng.randrange(0, 600))
    while moment < DAY:
        if value >= 5000 and rng.random() < 0.05:
            value = float(rng.randrange(0, 20))  # restarted
        else:
            value += rng.choice((0, 0, 1, 2, 5))
        readings.append((moment, value))
        moment += timedelta(seconds=rng.choice((7, 20, 60, 300, 3600, 9000)))
    hours, finer = hours_and_finer(readings)
    found = counter_uses(hours, before, lambda b: finer.get((b.step, b.start)))
    assert found == (uses_by_definition([v for _, v in readings], before), value, len(readings))


# -- states ----------------------------------------------------------------------------------


def state_hours(
    readings: Sequence[tuple[datetime, Value]], in_force: Value | None, end: datetime = DAY
) -> list[Rollup]:
    """The state's hour roll-ups, rolled up as the upkeep does: minutes, then hours."""
    held = {(DEVICE, "on"): in_force} if in_force is not None else None
    minutes = roll_readings(points(readings, "on"), MINUTE, D0, end, held)
    return combine(minutes, HOUR, D0, end, held)


def seconds_by_definition(
    readings: Sequence[tuple[datetime, Value]],
    in_force: Value | None,
    value: Value,
    until: datetime,
) -> float:
    limit = min(DAY, until)
    total = 0.0
    held, since = in_force, D0
    for ts, state in [*readings, (limit, None)]:
        if held == value:
            total += max(0.0, (min(ts, limit) - since).total_seconds())
        held, since = state, max(since, min(ts, limit))
    return total


def test_the_state_in_force_at_the_start_counts_from_the_start() -> None:
    """On since the evening before, off at 06:00, on again at 18:00: lit 12 hours."""
    readings: list[tuple[datetime, Value]] = [(at(6), False), (at(18), True), (at(23.9), True)]
    hours = state_hours(readings, True)
    assert state_seconds(hours, True, True, D0, DAY, DAY) == 12 * 3600
    assert state_seconds(hours, True, False, D0, DAY, DAY) == 12 * 3600
    # not known at the start: counted from the first reading
    assert state_seconds(state_hours(readings, None), None, True, D0, DAY, DAY) == 6 * 3600


def test_the_latest_state_holds_until_the_device_falls_silent() -> None:
    """Switched on at 20:00, heard for the last time at 20:30; silent after 15 minutes:
    lit from 20:00 to 20:45 — the hour's roll-up, held to 21:00, is cut back."""
    readings: list[tuple[datetime, Value]] = [(at(20), True), (at(20.5), True)]
    hours = state_hours(readings, False)
    until = at(20.75)
    assert state_seconds(hours, False, True, D0, DAY, until) == 45 * 60
    assert seconds_by_definition(readings, False, True, until) == 45 * 60
    # silent from 21:10: the gap after its last hour holds it on until then
    assert state_seconds(hours, False, True, D0, DAY, at(21) + timedelta(minutes=10)) == 70 * 60
    # and up to the period's end, or now, at the most
    assert state_seconds(hours, False, True, D0, DAY, DAY + timedelta(hours=2)) == 4 * 3600
    assert state_seconds(hours, False, True, D0, DAY, at(22)) == 2 * 3600


def test_a_device_silent_since_before_the_period_counts_nothing() -> None:
    assert state_seconds([], True, True, D0, DAY, D0 - timedelta(hours=1)) == 0


def test_a_text_state_counts_its_value() -> None:
    readings: list[tuple[datetime, Value]] = [
        (at(1), "charging"),
        (at(3.5), "available"),
        (at(19) + timedelta(minutes=10), "charging"),
        (at(21) + timedelta(minutes=40), "finishing"),
    ]
    hours = state_hours(readings, "available")
    assert state_seconds(hours, "available", "charging", D0, DAY, DAY) == 5 * 3600


@pytest.mark.parametrize("seed", range(20))
def test_time_in_use_from_roll_ups_is_the_definition(seed: int) -> None:
    rng = random.Random(seed)
    readings: list[tuple[datetime, Value]] = []
    moment = D0 + timedelta(seconds=rng.randrange(0, 3600))
    while moment < DAY:
        readings.append((moment, rng.random() < 0.5))
        moment += timedelta(seconds=rng.choice((15, 60, 300, 1800, 7200)))
    in_force: Value | None = rng.choice((True, False, None))
    hours = state_hours(readings, in_force)
    last = readings[-1][0]
    for until in (DAY, last + timedelta(minutes=15), last + timedelta(seconds=1)):
        found = state_seconds(hours, in_force, True, D0, DAY, until)
        assert found == pytest.approx(seconds_by_definition(readings, in_force, True, until))
