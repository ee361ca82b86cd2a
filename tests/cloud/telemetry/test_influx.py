"""InfluxTelemetry against a real influxd (1.x) through the v1 HTTP API; a database per test."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cloud.telemetry.influx import InfluxTelemetry
from cloud.telemetry.store import (
    HOUR,
    MINUTE,
    RAW,
    RawPoint,
    Rollup,
    TelemetryRejected,
    TelemetryStore,
    TelemetryUnavailable,
)
from linli.influxdb import InfluxServer
from linli.ports import free_port

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def store(influx_server: InfluxServer) -> Iterator[InfluxTelemetry]:
    with InfluxTelemetry(influx_server.url, f"t_{uuid.uuid4().hex}") as telemetry:
        telemetry.create_database()
        yield telemetry


def everything(store: TelemetryStore) -> list[RawPoint]:
    """Every raw reading (typed as the Protocol: InfluxTelemetry must satisfy it)."""
    return list(store.readings_between(FAR_PAST, FAR_FUTURE))


def test_raw_points_round_trip_in_time_order(store: InfluxTelemetry) -> None:
    tricky = 'say "hi", a=b \\ c\nnext line'
    points = [
        RawPoint(2, "brightway_street_light", at(30), {"on": True, "power_w": 41.5}),
        RawPoint(1, "brightway_street_light", at(0), {"on": False, "power_w": 0}),
        RawPoint(1, "gate, with space", at(10), {"mode": tricky, "open count": 3}),
        RawPoint(3, "water_meter", at(20.000123), {"litres": 12345678.25}),
    ]
    store.write_readings(points)

    found = everything(store)

    assert [(p.ts, p.device_pk, p.profile_id) for p in found] == [
        (at(0), 1, "brightway_street_light"),
        (at(10), 1, "gate, with space"),
        (at(20.000123), 3, "water_meter"),
        (at(30), 2, "brightway_street_light"),
    ]
    # no metric of another profile or another reading shows up as a null
    assert [dict(p.metrics) for p in found] == [
        {"on": False, "power_w": 0.0},
        {"mode": tricky, "open count": 3.0},
        {"litres": 12345678.25},
        {"on": True, "power_w": 41.5},
    ]
    assert all(p.ts.tzinfo is not None and p.ts.utcoffset() == timedelta(0) for p in found)
    assert isinstance(found[0].metrics["on"], bool)
    assert isinstance(found[0].metrics["power_w"], float)


def test_readings_between_is_half_open(store: InfluxTelemetry) -> None:
    store.write_readings([RawPoint(1, "meter", at(s), {"v": float(s)}) for s in range(5)])

    found = list(store.readings_between(at(1), at(3)))

    assert [p.metrics["v"] for p in found] == [1.0, 2.0]


def test_writing_the_same_points_twice_keeps_one_copy(store: InfluxTelemetry) -> None:
    points = [RawPoint(1, "meter", at(s), {"v": s * 1.5, "ok": True}) for s in range(3)]
    store.write_readings(points)
    store.write_readings(points)

    assert everything(store) == points


def test_int_then_float_of_one_metric_do_not_conflict(store: InfluxTelemetry) -> None:
    store.write_readings([RawPoint(1, "meter", at(0), {"v": 3})])
    store.write_readings([RawPoint(1, "meter", at(1), {"v": 3.25})])

    assert store.series(1, "meter", "v", FAR_PAST, FAR_FUTURE) == [(at(0), 3.0), (at(1), 3.25)]


def test_many_points_are_written_in_several_requests(store: InfluxTelemetry) -> None:
    points = [RawPoint(1, "meter", at(s / 10), {"v": float(s)}) for s in range(12_001)]
    store.write_readings(points)

    assert len(store.series(1, "meter", "v", FAR_PAST, FAR_FUTURE)) == 12_001


def test_series_is_one_metric_of_one_device(store: InfluxTelemetry) -> None:
    store.write_readings(
        [
            RawPoint(1, "light", at(2), {"on": True}),
            RawPoint(1, "light", at(0), {"on": False, "power_w": 0.0}),
            RawPoint(1, "light", at(1), {"power_w": 40.0}),  # no "on": not a null in the series
            RawPoint(2, "light", at(0), {"on": True}),  # another device
            RawPoint(1, "gate", at(0), {"on": True}),  # another profile
            RawPoint(1, "light", at(9), {"on": True}),  # after the end
        ]
    )

    assert store.series(1, "light", "on", at(0), at(9)) == [(at(0), False), (at(2), True)]
    assert store.series(1, "light", "missing", at(0), at(9)) == []
    assert store.series(1, "no_such_profile", "on", at(0), at(9)) == []


def number_rollup(start: datetime, **changes: object) -> Rollup:
    fields: dict[str, object] = {
        "device_pk": 1,
        "metric": "power_w",
        "start": start,
        "step": MINUTE,
        "count": 4,
        "min": 0.0,
        "max": 42.5,
        "mean": 20.125,
        "covered": 60.0,
        "last": 42.5,
    }
    fields.update(changes)
    return Rollup(**fields)  # type: ignore[arg-type]


def state_rollup(start: datetime, **changes: object) -> Rollup:
    fields: dict[str, object] = {
        "device_pk": 1,
        "metric": "mode",
        "start": start,
        "step": MINUTE,
        "count": 2,
        "shares": {"open": 0.25, 'say "hi"': 0.75},
        "covered": 45.5,
        "last": "open",
    }
    fields.update(changes)
    return Rollup(**fields)  # type: ignore[arg-type]


def test_rollups_round_trip(store: InfluxTelemetry) -> None:
    numbers = [number_rollup(at(60)), number_rollup(at(0), last=3)]
    states = [state_rollup(at(0)), state_rollup(at(60), last=True, shares={"true": 1.0})]
    store.write_rollups([*numbers, *states])

    assert store.rollups(1, "power_w", MINUTE, FAR_PAST, FAR_FUTURE) == numbers[::-1]
    assert store.rollups(1, "mode", MINUTE, FAR_PAST, FAR_FUTURE) == states
    assert store.rollups(1, "mode", MINUTE, at(0), at(60)) == states[:1]
    assert store.rollups(2, "mode", MINUTE, FAR_PAST, FAR_FUTURE) == []
    assert store.rollups(1, "mode", HOUR, FAR_PAST, FAR_FUTURE) == []
    restored = store.rollups(1, "power_w", MINUTE, FAR_PAST, FAR_FUTURE)
    assert isinstance(restored[0].count, int)
    assert restored[0].last == 3
    assert store.rollups(1, "mode", MINUTE, FAR_PAST, FAR_FUTURE)[1].last is True


def test_rollups_between_are_every_devices_in_time_order(store: InfluxTelemetry) -> None:
    wanted = [
        state_rollup(at(0), device_pk=1),
        state_rollup(at(0), device_pk=2),
        number_rollup(at(0), device_pk=2),
        number_rollup(at(60), device_pk=1),
    ]
    store.write_rollups(
        [
            *wanted[::-1],
            number_rollup(at(120)),  # not before the end
            number_rollup(at(-60)),  # before the start
            number_rollup(at(0), step=HOUR),  # another step
        ]
    )

    assert store.rollups_between(MINUTE, at(0), at(120)) == wanted
    assert store.rollups_between(HOUR, at(0), at(120)) == [number_rollup(at(0), step=HOUR)]


def test_rewriting_a_rollup_replaces_it(store: InfluxTelemetry) -> None:
    store.write_rollups([number_rollup(at(0)), state_rollup(at(0))])
    newer_number = number_rollup(
        at(0), count=0, min=None, max=None, mean=None, covered=30.0, last=None
    )
    newer_state = state_rollup(at(0), count=5, shares=None, last=None)
    store.write_rollups([newer_number, newer_state])

    # fields that became None do not keep their old values
    assert store.rollups(1, "power_w", MINUTE, FAR_PAST, FAR_FUTURE) == [newer_number]
    assert store.rollups(1, "mode", MINUTE, FAR_PAST, FAR_FUTURE) == [newer_state]


def test_values_in_force_are_the_latest_last_per_device_and_metric(
    store: InfluxTelemetry,
) -> None:
    store.write_rollups(
        [
            number_rollup(at(0), last=1.0),
            number_rollup(at(60), last=2.0),
            number_rollup(at(120), last=3.0),  # not before `before`
            state_rollup(at(0), last="closed"),
            state_rollup(at(60), device_pk=2, last="open"),
            state_rollup(at(-120), device_pk=3, last="open"),  # before `since`
            state_rollup(at(60), device_pk=4, last=None),  # no value in force
            state_rollup(at(60), device_pk=5, last=True),  # not asked for
            number_rollup(at(60), step=HOUR, last=99.0),  # another step
        ]
    )

    found = store.values_in_force(MINUTE, [1, 2, 3, 4], before=at(120), since=at(-60))

    assert found == {(1, "power_w"): 2.0, (1, "mode"): "closed", (2, "mode"): "open"}
    assert store.values_in_force(MINUTE, [], before=at(120), since=at(-60)) == {}


def test_values_in_force_for_many_devices(store: InfluxTelemetry) -> None:
    store.write_rollups([state_rollup(at(0), device_pk=pk, last=pk % 2 == 0) for pk in range(450)])

    found = store.values_in_force(MINUTE, list(range(450)), before=at(60), since=at(0))

    assert found == {(pk, "mode"): pk % 2 == 0 for pk in range(450)}


def test_expire_forgets_older_data_of_one_kind(store: InfluxTelemetry) -> None:
    store.write_readings(
        [RawPoint(1, "light", at(s), {"on": True}) for s in (0, 60)]
        + [RawPoint(2, "meter", at(s), {"v": 1.0}) for s in (0, 60)]
    )
    store.write_rollups(
        [
            number_rollup(at(0)),
            number_rollup(at(60)),
            number_rollup(at(0), step=HOUR),
            number_rollup(at(60), step=HOUR),
        ]
    )

    store.expire(RAW, before=at(60))
    assert [(p.device_pk, p.ts) for p in everything(store)] == [(1, at(60)), (2, at(60))]
    assert len(store.rollups(1, "power_w", MINUTE, FAR_PAST, FAR_FUTURE)) == 2

    store.expire(MINUTE, before=at(60))
    assert store.rollups(1, "power_w", MINUTE, FAR_PAST, FAR_FUTURE) == [number_rollup(at(60))]
    assert len(store.rollups(1, "power_w", HOUR, FAR_PAST, FAR_FUTURE)) == 2
    assert len(everything(store)) == 2


def test_create_database_is_idempotent(influx_server: InfluxServer) -> None:
    with InfluxTelemetry(influx_server.url, f"t_{uuid.uuid4().hex}") as store:
        assert store.name == "influxdb"
        store.create_database()
        store.write_readings([RawPoint(1, "meter", at(0), {"v": 1.0})])
        store.create_database()
        assert len(everything(store)) == 1


def test_an_unreachable_server_is_unavailable() -> None:
    with InfluxTelemetry(f"http://127.0.0.1:{free_port()}", "linli", timeout_s=2) as store:
        with pytest.raises(TelemetryUnavailable, match="unreachable"):
            store.write_readings([RawPoint(1, "meter", at(0), {"v": 1.0})])
        with pytest.raises(TelemetryUnavailable):
            store.readings_between(FAR_PAST, FAR_FUTURE)
        with pytest.raises(TelemetryUnavailable):
            store.expire(RAW, at(0))


def test_a_field_type_conflict_is_rejected_with_influxdbs_reason(
    store: InfluxTelemetry,
) -> None:
    """Not temporary: ingest must not hold such data forever, trying again."""
    store.write_readings([RawPoint(1, "meter", at(0), {"v": 1.5})])

    with pytest.raises(TelemetryRejected, match="field type conflict") as failure:
        store.write_readings([RawPoint(1, "meter", at(1), {"v": "high"})])
    assert '"v"' in str(failure.value)


def test_a_missing_database_is_unavailable(influx_server: InfluxServer) -> None:
    with InfluxTelemetry(influx_server.url, f"missing_{uuid.uuid4().hex}") as store:
        with pytest.raises(TelemetryUnavailable, match="database not found"):
            store.write_readings([RawPoint(1, "meter", at(0), {"v": 1.0})])
        with pytest.raises(TelemetryUnavailable, match="database not found"):
            store.readings_between(FAR_PAST, FAR_FUTURE)
        with pytest.raises(TelemetryUnavailable, match="database not found"):
            store.expire(MINUTE, at(0))


def test_a_passed_client_is_used_and_left_open(
    influx_server: InfluxServer, caplog: pytest.LogCaptureFixture
) -> None:
    with httpx.Client(timeout=5) as client:
        with InfluxTelemetry(influx_server.url + "/", f"t_{uuid.uuid4().hex}", client=client) as s:
            s.create_database()
            s.write_readings([RawPoint(1, "meter", at(0), {"v": 1.0})])
        assert not client.is_closed
        assert len(everything(s)) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
