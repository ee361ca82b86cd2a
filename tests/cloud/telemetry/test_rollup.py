"""Roll-ups as charts need them: numbers by min, max, mean and count; states by the share of
time each value held, readings arriving on change."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from cloud.telemetry.rollup import combine, roll_readings
from cloud.telemetry.store import HOUR, MINUTE, RawPoint, Rollup

H0 = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
LAMP = 7


def at(seconds: float) -> datetime:
    return H0 + timedelta(seconds=seconds)


def lamp(seconds: float, on: bool, current: float) -> RawPoint:
    return RawPoint(LAMP, "brightway_street_light", at(seconds), {"on": on, "current": current})


def by_metric(rollups: list[Rollup], metric: str) -> list[Rollup]:
    return [r for r in rollups if r.metric == metric]


def test_a_lamp_switched_on_for_the_last_quarter_of_an_hour_was_on_a_quarter_of_it() -> None:
    points = [lamp(0, False, 0.0), lamp(2700, True, 0.42), lamp(3000, True, 0.44)]
    [hour] = by_metric(roll_readings(points, HOUR, H0, at(3600)), "on")
    assert hour.count == 3  # three readings, but time decides the share
    assert hour.shares == pytest.approx({"false": 0.75, "true": 0.25})
    assert hour.covered == 3600
    assert hour.last is True
    [current] = by_metric(roll_readings(points, HOUR, H0, at(3600)), "current")
    assert (current.min, current.max, current.count) == (0.0, 0.44, 3)
    assert current.mean == pytest.approx((0.0 + 0.42 + 0.44) / 3)


def test_the_value_in_force_counts_until_the_first_reading_and_fills_quiet_buckets() -> None:
    points = [lamp(1800, False, 0.0)]
    in_force = {(LAMP, "on"): True}
    minutes = by_metric(roll_readings(points, MINUTE, H0, at(3600), in_force), "on")
    assert len(minutes) == 60  # every minute has a state, readings or not
    assert all(m.shares == {"true": 1.0} for m in minutes[:30])
    assert all(m.shares == {"false": 1.0} for m in minutes[30:])
    assert [m.count for m in minutes].count(1) == 1
    # numbers have no value between readings: only the minute with one
    assert [m.start for m in by_metric(roll_readings(points, MINUTE, H0, at(3600)), "current")] == [
        at(1800)
    ]


def test_a_device_first_heard_mid_bucket_covers_only_the_rest() -> None:
    [minute] = by_metric(roll_readings([lamp(45, True, 0.4)], MINUTE, H0, at(60)), "on")
    assert minute.covered == 15
    assert minute.shares == {"true": 1.0}


def test_hours_rolled_from_sparse_minutes_equal_hours_rolled_from_the_readings() -> None:
    """Minutes exist only where readings fell; an hour made of them must come out as if
    rolled from the raw readings, gaps held at the value in force."""
    rng = random.Random(4)
    points = []
    on = False
    for moment in sorted(rng.uniform(0, 3 * HOUR) for _ in range(40)):
        on = on if rng.random() < 0.4 else not on
        points.append(lamp(moment, on, round(rng.uniform(0, 0.5), 3)))
    in_force = {(LAMP, "on"): True}
    end = at(3 * HOUR)
    direct = roll_readings(points, HOUR, H0, end, in_force)
    minutes = roll_readings(points, MINUTE, H0, end, in_force)
    sparse = [m for m in minutes if m.count > 0]  # as the roll-up job keeps them
    hours = combine(sparse, HOUR, H0, end, in_force)
    assert [(h.metric, h.start, h.count) for h in hours] == [
        (d.metric, d.start, d.count) for d in direct
    ]
    for made, expected in zip(hours, direct, strict=True):
        assert made.covered == pytest.approx(expected.covered)
        assert made.last == expected.last
        if expected.shares is not None:
            assert made.shares == pytest.approx(expected.shares)
        if expected.mean is not None:
            assert (made.min, made.max) == (expected.min, expected.max)
            assert made.mean == pytest.approx(expected.mean)


def test_text_states_share_their_time_by_value() -> None:
    gate = [
        RawPoint(3, "turnix_access_gate", at(0), {"mode": "normal"}),
        RawPoint(3, "turnix_access_gate", at(20), {"mode": "free"}),
        RawPoint(3, "turnix_access_gate", at(50), {"mode": "normal"}),
    ]
    [minute] = roll_readings(gate, MINUTE, H0, at(60))
    assert minute.shares == pytest.approx({"normal": 30 / 60, "free": 30 / 60})
    assert minute.last == "normal"


def test_readings_outside_the_span_are_left_out_and_devices_kept_apart() -> None:
    points = [lamp(-5, True, 0.5), lamp(10, True, 0.4), lamp(70, True, 0.3)]
    other = RawPoint(8, "brightway_street_light", at(30), {"on": False, "current": 0.0})
    rolled = roll_readings([*points, other], MINUTE, H0, at(60))
    assert {(r.device_pk, r.metric, r.count) for r in rolled} == {
        (LAMP, "on", 1),
        (LAMP, "current", 1),
        (8, "on", 1),
        (8, "current", 1),
    }


def test_rolling_up_many_readings_gives_its_pace_a_say_and_the_same_result() -> None:
    """Beside ingest, the roll-ups pace themselves (plumbing.pacing); pacing changes nothing
    of what they compute."""
    calls = []
    points = [lamp(n * 0.5, n % 3 == 0, 0.1) for n in range(2000)]
    paced = roll_readings(points, MINUTE, H0, at(1000), pace=lambda: calls.append(1))
    assert len(calls) >= 2000 // 256
    assert paced == roll_readings(points, MINUTE, H0, at(1000))
    calls.clear()
    hours = combine(paced, HOUR, H0, at(1000), pace=lambda: calls.append(1))
    assert calls and hours == combine(paced, HOUR, H0, at(1000))
