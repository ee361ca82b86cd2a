"""Utilisation figures (:mod:`cloud.telemetry.utilisation`): a facility's use added up over its
devices, idle by thresholds, silent without readings, per measure and per group — on rows
made by hand; and read from each telemetry store's roll-ups after real ingest, a counter
that restarted read again down to its raw readings, a lamp that fell silent while on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cloud.db.models import Device
from cloud.register.scope import FacilityRow, GroupBy, Period, Scope
from cloud.services import Services
from cloud.telemetry import utilisation as u
from cloud.telemetry.usage import Meter, Used
from device_profiles import Catalogue
from tests.cloud.helpers import LIGHT, batch, reported, rolled_up

LIFT = "liftsafe_elevator"
DAY_S = 86400.0


def facility(pk: int, category: str, zone: int | None = None) -> FacilityRow:
    return FacilityRow(pk, f"f{pk}", f"facility {pk}", category, zone, f"zone {zone}")


def gate(pk: int, facility_id: int) -> Meter:
    return Meter(pk, facility_id, "acme_access_gate", "access_gate", "cycles", None, "passages")


def lamp(pk: int, facility_id: int) -> Meter:
    return Meter(pk, facility_id, LIGHT, "street_light", "on", True, "time lit")


FACILITIES = [
    facility(1, "access", 1),
    facility(2, "access", 2),
    facility(3, "lighting", 1),
    facility(4, "lighting", 2),
    facility(5, "alarm", 1),  # an alarm button: no measure of use
]
METERS = [gate(11, 1), gate(12, 2), lamp(13, 3), lamp(14, 3), lamp(15, 4)]
USED = {
    11: Used(uses=260, readings=5),
    12: Used(readings=3),  # heard, not used
    13: Used(in_use_s=12 * 3600, readings=40),
    14: Used(in_use_s=4 * 3600, readings=30),
    # 15 not heard at all
}
OBSERVED = u.Observed(FACILITIES, METERS, USED, DAY_S)


def test_a_facilitys_use_adds_up_its_devices_and_idle_ones_come_first() -> None:
    found = u.figures(OBSERVED)
    assert (found.facilities, found.measured, found.idle, found.silent) == (5, 4, 2, 1)
    assert (found.uses, found.in_use_s) == (260, 16 * 3600)
    listed = [(f.facility_id, f.uses, f.in_use_s, f.idle, f.silent) for f in found.least_used]
    assert listed == [
        (2, 0, None, True, False),  # idle: access before lighting
        (4, None, 0.0, True, True),  # idle and silent: perhaps broken, not unused
        (1, 260, None, False, False),
        (3, None, 16 * 3600, False, False),
    ]
    lights = found.least_used[3]
    assert (lights.devices, lights.readings) == (2, 70)
    assert lights.in_use_share == pytest.approx(16 / 48)  # two lamps, a day each


def test_thresholds_make_little_use_idle_and_top_lists_fewer() -> None:
    found = u.figures(OBSERVED, idle=u.Idle(uses=300, seconds=20 * 3600), top=2)
    assert found.idle == 4
    assert [f.facility_id for f in found.least_used] == [2, 1]
    assert u.figures(OBSERVED, idle=u.Idle(uses=259)).idle == 2


def test_measures_sum_each_kind_of_device() -> None:
    gates, lamps = u.figures(OBSERVED).measures
    assert (gates.device_type, gates.kind, gates.metric, gates.value) == (
        "access_gate",
        "counter",
        "cycles",
        None,
    )
    assert (gates.devices, gates.facilities, gates.uses, gates.in_use_s) == (2, 2, 260, None)
    assert (lamps.kind, lamps.value, lamps.description) == ("state", True, "time lit")
    assert (lamps.devices, lamps.facilities, lamps.uses, lamps.in_use_s) == (3, 2, None, 57600)
    assert lamps.readings == 70


def test_groups_hold_their_own_facilities() -> None:
    north, south = u.grouped(OBSERVED, GroupBy.ZONE)
    assert (north.key, north.name, south.name) == ("1", "zone 1", "zone 2")
    assert (north.figures.facilities, north.figures.measured, north.figures.idle) == (3, 2, 0)
    assert (north.figures.uses, north.figures.in_use_s) == (260, 16 * 3600)
    assert [f.facility_id for f in south.figures.least_used] == [2, 4]
    by_category = {g.key: g.figures.measured for g in u.grouped(OBSERVED, GroupBy.CATEGORY)}
    assert by_category == {"access": 2, "alarm": 0, "lighting": 2}


def test_nothing_observed_gives_zero_figures() -> None:
    assert u.figures(u.Observed()) == u.Figures()


def test_the_silence_span_is_the_profiles_silence_rule(catalogue: Catalogue) -> None:
    assert u.silence_s(catalogue["acme_access_gate"]) == 3 * 60
    assert u.silence_s(catalogue[LIGHT]) == 3 * 300
    without = catalogue[LIGHT].model_copy(update={"rules": ()})
    assert u.silence_s(without) == u.SILENT_HEARTBEATS * 300


# -- from the stores ---------------------------------------------------------------------------

D0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
"""The day before yesterday (UTC): within every retention."""


def at(hours: float, seconds: float = 0) -> datetime:
    return D0 + timedelta(hours=hours, seconds=seconds)


def test_use_is_read_from_each_stores_roll_ups(
    any_store_services: Services, catalogue: Catalogue
) -> None:
    """A lift's controller restarts at 02:00:20 and climbs past its old count within the
    minute — only its raw readings tell: 20 + 10 + 3 + 147 + 10 = 190 trips. A lamp lit at
    20:00, last heard 20:30: lit until its silence span (15 min) ran out, 45 minutes. Another,
    lit since the evening before and off at 06:00: six hours."""
    services = any_store_services
    readings = [
        reported(catalogue, LIFT, "lift-9", at(-0.2), trips=100),
        reported(catalogue, LIGHT, "lamp-8", at(-2), on=True),
        reported(catalogue, LIGHT, "lamp-9", at(-1), on=False),
        reported(catalogue, LIFT, "lift-9", at(1), trips=120),
        reported(catalogue, LIFT, "lift-9", at(2, 5), trips=130),
        reported(catalogue, LIFT, "lift-9", at(2, 20), trips=3),
        reported(catalogue, LIFT, "lift-9", at(2, 50), trips=150),
        reported(catalogue, LIFT, "lift-9", at(5), trips=160),
        reported(catalogue, LIGHT, "lamp-8", at(6), on=False),
        reported(catalogue, LIGHT, "lamp-9", at(20), on=True),
        reported(catalogue, LIGHT, "lamp-9", at(20.5), on=True),
        reported(catalogue, LIGHT, "lamp-8", at(25), on=False),  # the next day
        reported(catalogue, LIFT, "lift-9", at(25), trips=170),
    ]
    for seq, reading in enumerate(readings, start=1):
        services.writer.write(batch("gw-1", seq, [reading]))
    rolled_up(services.upkeep, at(26))
    with services.sessions() as session:
        pks = dict(session.execute(select(Device.device_id, Device.id)).tuples().all())
        observed = u.load(
            session,
            services.telemetry,
            catalogue,
            services.upkeep.retention,
            Scope(),
            Period(D0, at(24)),
            datetime.now(UTC),
        )
    assert observed.span_s == DAY_S
    assert {m.device_pk: m.metric for m in observed.meters} == {
        pks["lift-9"]: "trips",
        pks["lamp-8"]: "on",
        pks["lamp-9"]: "on",
    }
    by_device = {m.device_pk: observed.of(m) for m in observed.meters}
    assert by_device[pks["lift-9"]] == Used(uses=190, readings=5)
    assert by_device[pks["lamp-8"]].in_use_s == 6 * 3600
    assert by_device[pks["lamp-9"]] == Used(in_use_s=45 * 60, readings=2)
