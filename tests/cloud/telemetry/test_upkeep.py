"""Roll-ups kept up as readings come: each minute that got readings is rolled up once it
has ended, late readings roll it up again, hours follow their minutes, old data is
forgotten after its retention. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pytest

from cloud.db.models import Reading, RollupDue, TelemetryRollup
from cloud.ingest.writer import BatchWriter
from cloud.services import Services
from cloud.telemetry.store import HOUR, MINUTE, RawPoint
from cloud.telemetry.upkeep import TelemetryUpkeep
from device_profiles import Catalogue
from device_profiles.protocol import Item
from tests.cloud.helpers import LIGHT, T0, at, batch, count, item

SETTLED = timedelta(seconds=10)


def lamp(catalogue: Catalogue, minutes: float, on: bool, device: str = "light-01") -> Item:
    return item(
        catalogue, LIGHT, "normal_on" if on else "normal_off", ts=at(minutes), device_id=device
    )


class Seq:
    def __init__(self) -> None:
        self.n = 0

    def write(self, writer: BatchWriter, items: Iterable[Item]) -> None:
        self.n += 1
        writer.write(batch("gw-1", self.n, items))


def sample(services: Services, name: str, **labels: str) -> float | None:
    return services.metrics.registry.get_sample_value(name, labels)


def device_pk(services: Services) -> int:
    with services.sessions() as session:
        found = session.query(Reading.device_pk).first()
        assert found is not None
        return int(found[0])


def test_minutes_with_readings_are_rolled_up_once_they_end(
    services: Services, catalogue: Catalogue
) -> None:
    seq = Seq()
    seq.write(services.writer, [lamp(catalogue, 0.5, False), lamp(catalogue, 1.25, True)])
    seq.write(services.writer, [lamp(catalogue, 1.75, False)])
    assert count(services.sessions, RollupDue) == 2  # minutes 0 and 1, marked by ingest

    early = services.upkeep.run(at(1) + SETTLED)  # minute 1 has not ended yet
    assert early.minutes == 1
    pk = device_pk(services)
    assert [r.start for r in services.telemetry.rollups(pk, "on", MINUTE, T0, at(5))] == [at(0)]

    services.upkeep.run(at(2) + SETTLED)
    minutes = services.telemetry.rollups(pk, "on", MINUTE, T0, at(5))
    assert [(m.start, m.count) for m in minutes] == [(at(0), 1), (at(1), 2)]
    assert minutes[0].shares == {"false": 1.0} and minutes[0].covered == 30
    # minute 1 starts off (from minute 0), on for 30 s, off again for 15 s
    assert minutes[1].shares == pytest.approx({"false": 0.5, "true": 0.5})
    assert minutes[1].covered == 60
    current = services.telemetry.rollups(pk, "current", MINUTE, T0, at(5))
    assert (current[1].min, current[1].max, current[1].count) == (0.0, 0.42, 2)
    assert count(services.sessions, RollupDue, RollupDue.step == MINUTE) == 0


def test_a_late_reading_rolls_its_minute_and_hour_up_again(
    services: Services, catalogue: Catalogue
) -> None:
    seq = Seq()
    seq.write(services.writer, [lamp(catalogue, 10, True), lamp(catalogue, 40, True)])
    services.upkeep.run(at(60) + SETTLED)  # the hour has ended: it is rolled up too
    pk = device_pk(services)
    [hour] = services.telemetry.rollups(pk, "on", HOUR, T0, at(60))
    assert (hour.count, hour.shares) == (2, {"true": 1.0})

    seq.write(services.writer, [lamp(catalogue, 25, False)])  # a backlog arrives late
    result = services.upkeep.run(at(90) + SETTLED)
    assert (result.minutes, result.hours) == (1, 1)
    [minute] = services.telemetry.rollups(pk, "on", MINUTE, at(25), at(26))
    assert minute.shares == {"false": 1.0}
    [hour] = services.telemetry.rollups(pk, "on", HOUR, T0, at(60))
    assert hour.count == 3
    # on from 10 to 25, off from 25 to 40, on from 40 to the hour's end, of 50 minutes known
    assert hour.shares == pytest.approx({"true": 35 / 50, "false": 15 / 50})
    assert count(services.sessions, RollupDue) == 0


def test_workers_marking_the_same_minute_roll_it_up_once(
    services: Services, catalogue: Catalogue
) -> None:
    other = BatchWriter(
        services.sessions,
        catalogue,
        services.health,
        services.metrics,
        telemetry=services.telemetry,
    )
    services.writer.write(batch("gw-1", 1, [lamp(catalogue, 3.1, True, "light-01")]))
    other.write(batch("gw-1", 2, [lamp(catalogue, 3.5, True, "light-02")]))
    assert count(services.sessions, RollupDue) == 2  # one row each: neither waits
    result = services.upkeep.run(at(4) + SETTLED)
    assert result.minutes == 1
    assert count(services.sessions, TelemetryRollup, TelemetryRollup.metric == "on") == 2
    assert count(services.sessions, RollupDue, RollupDue.step == MINUTE) == 0


def test_a_mark_made_while_its_minute_is_rolled_up_is_kept(
    services: Services, catalogue: Catalogue
) -> None:
    """A reading stored while the job reads its minute must not lose its roll-up."""
    seq = Seq()
    seq.write(services.writer, [lamp(catalogue, 5.2, True)])
    store = services.telemetry
    read = store.readings_between

    def meanwhile(start: datetime, end: datetime) -> Iterable[RawPoint]:
        found = list(read(start, end))
        if len(found) == 1:
            seq.write(services.writer, [lamp(catalogue, 5.6, False)])
        return found

    store.readings_between = meanwhile  # type: ignore[method-assign]
    services.upkeep.run(at(6) + SETTLED)
    assert count(services.sessions, RollupDue, RollupDue.step == MINUTE) == 1
    services.upkeep.run(at(6) + SETTLED)
    [minute] = store.rollups(device_pk(services), "on", MINUTE, at(5), at(6))
    assert minute.count == 2


def test_telemetry_past_its_retention_is_forgotten(
    services: Services, catalogue: Catalogue
) -> None:
    seq = Seq()
    seq.write(services.writer, [lamp(catalogue, 1, True)])
    later = T0 + timedelta(days=40)
    seq.write(services.writer, [lamp(catalogue, 40 * 24 * 60 + 1, False)])
    services.upkeep.run(at(120))  # roll up the first
    assert count(services.sessions, TelemetryRollup, TelemetryRollup.start < later) > 0
    services.upkeep.expire(later + timedelta(hours=1))  # raw kept 30 days
    assert count(services.sessions, Reading) == 1
    assert count(services.sessions, TelemetryRollup, TelemetryRollup.start < later) > 0
    services.upkeep.expire(T0 + timedelta(days=100))  # minute roll-ups kept 90 days
    assert count(services.sessions, TelemetryRollup, TelemetryRollup.step == MINUTE) == 0
    assert count(services.sessions, TelemetryRollup, TelemetryRollup.step == HOUR) > 0


def test_a_backlog_is_rolled_up_a_few_minutes_a_run_and_its_lag_is_shown(
    services: Services, catalogue: Catalogue
) -> None:
    seq = Seq()
    seq.write(services.writer, [lamp(catalogue, m + 0.5, True) for m in range(3)])
    upkeep = TelemetryUpkeep(
        services.sessions,
        services.telemetry,
        services.upkeep.retention,
        services.metrics,
        minutes_per_run=1,
    )
    assert upkeep.run(at(10)).minutes == 1
    # minutes 1 and 2 wait; minute 1 ended 8 minutes before
    assert sample(services, "linli_telemetry_rollup_lag_seconds") == 8 * 60
    rolled = sample(services, "linli_telemetry_rollups_total", step=str(MINUTE))
    assert rolled == 3  # on, current, voltage of minute 0
    upkeep.run(at(10))
    upkeep.run(at(10))
    assert sample(services, "linli_telemetry_rollup_lag_seconds") == 0
    assert count(services.sessions, TelemetryRollup, TelemetryRollup.step == MINUTE) == 9
