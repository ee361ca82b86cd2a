"""Utilisation figures: how much a community's facilities are used, and which sit idle,
measured from their devices' own telemetry.

A device's profile says what its use is (its ``usage``, docs/profiles.md): a **counter** — an
int metric that counts uses since installation (a gate's cycles, a lift's trips, a barrier's
openings) — or a **state** — a metric and the value of it that means in use (a lamp on, a
charger charging). A facility is *measured* when one of its devices (those bound to it now)
has such a profile; the others (an alarm button) count in ``facilities`` alone.

Everything is counted over a **period** ``[start, end)`` taken to the minute of the roll-ups
— start and end rounded down to their minute, to their hour where minute roll-ups have
expired — and nothing after ``now`` counts. How the roll-ups are read, and where that is
exact: :mod:`cloud.telemetry.usage`. The figures are pure functions of rows
(:class:`Observed`); :func:`load` reads them for a scope, :func:`figures` and
:func:`grouped` compute.

**Uses**, of a counter: each reading counts its increase over the reading before it — the
difference, or the reading's own value when it is lower than the one before (the counter
restarted, and counts from 0). A device's uses in the period are the increases of its
readings in the period. The reading before the first is the device's last one before the
period (within a day); without one, the first reading counts nothing. A gap in the readings
loses nothing: the counter counted on meanwhile, and the uses of the gap count with the
first reading after it (in the period of that reading).

**Time in use**, of a state: each reading's value holds from its time until the next
reading; the value in force when the period starts (the last reading before it, within a
day) counts from the start; the latest value holds up to the period's end or now — but
after the device's latest reading for no longer than its silence span (its profile's
silence rule, heartbeats times heartbeat_s; three heartbeats without one): a device that fell
silent is not counted in use. A gap followed by another reading is held through, as the
roll-ups hold it.

**A facility's figures** add up its devices': ``uses`` over its counters, ``in_use_s`` over
its states (two lamps lit for an hour: two hours), ``readings`` of those metrics in the
period; ``in_use_share`` is ``in_use_s`` over the period's seconds up to now times its
state devices. A measured facility is **idle** when its uses are at most ``idle.uses`` and
its time in use at most ``idle.seconds`` (both 0 by default: not used at all), for each
kind it measures by. It is **silent** when none of its measuring devices sent a reading in
the period: idle, but perhaps broken or offline rather than unused (see the repair
figures).

**Measures**: the same sums per kind of measure — device type, metric and a state's value
(gates' cycles, lifts' trips, lamps on) — with their devices and facilities.

**The facilities least used** (``least_used``): the measured facilities, idle ones first,
then by category, uses, time in use, name and id.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db.models import Device
from cloud.register.scope import FacilityRow, GroupBy, Period, Scope, groups, in_scope
from cloud.register.scope import facilities as facilities_of
from cloud.telemetry.rollup import state_key
from cloud.telemetry.store import TelemetryStore, Value
from cloud.telemetry.upkeep import Retention
from cloud.telemetry.usage import NOTHING, Meter, UsageReader, Used
from device_profiles import Catalogue, Profile

Kind = Literal["counter", "state"]
SILENT_HEARTBEATS = 3
"""A device's silence span without a silence rule, in heartbeats."""


@dataclass(frozen=True)
class Idle:
    """The most use of a facility that is idle."""

    uses: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class FacilityUsage:
    facility_id: int
    code: str
    name: str
    category: str
    zone_id: int | None
    devices: int
    readings: int
    uses: int | None
    in_use_s: float | None
    in_use_share: float | None
    idle: bool
    silent: bool


@dataclass(frozen=True)
class Measure:
    device_type: str
    metric: str
    kind: Kind
    value: Value | None
    description: str
    devices: int
    facilities: int
    readings: int
    uses: int | None
    in_use_s: float | None


@dataclass(frozen=True)
class Figures:
    facilities: int = 0
    measured: int = 0
    idle: int = 0
    silent: int = 0
    uses: int = 0
    in_use_s: float = 0.0
    measures: tuple[Measure, ...] = ()
    least_used: tuple[FacilityUsage, ...] = ()


@dataclass(frozen=True)
class Group:
    key: str
    name: str
    figures: Figures


@dataclass(frozen=True)
class Observed:
    """What the figures are computed from: the facilities in scope, their devices' measures
    of use and each device's use in the period, and the period's seconds up to now."""

    facilities: Sequence[FacilityRow] = ()
    meters: Sequence[Meter] = ()
    used: Mapping[int, Used] = field(default_factory=dict)
    span_s: float = 0.0

    def of(self, meter: Meter) -> Used:
        return self.used.get(meter.device_pk, NOTHING)


def _facility(
    facility: FacilityRow, meters: Sequence[Meter], observed: Observed, idle: Idle
) -> FacilityUsage:
    counters = [m for m in meters if m.counter]
    states = [m for m in meters if not m.counter]
    uses = round(sum(observed.of(m).uses for m in counters)) if counters else None
    in_use = sum(observed.of(m).in_use_s for m in states) if states else None
    share = None
    if in_use is not None and observed.span_s > 0:
        share = in_use / (observed.span_s * len(states))
    readings = sum(observed.of(m).readings for m in meters)
    return FacilityUsage(
        facility_id=facility.id,
        code=facility.code,
        name=facility.name,
        category=facility.category,
        zone_id=facility.zone_id,
        devices=len(meters),
        readings=readings,
        uses=uses,
        in_use_s=in_use,
        in_use_share=share,
        idle=(uses is None or uses <= idle.uses) and (in_use is None or in_use <= idle.seconds),
        silent=readings == 0,
    )


def _measures(meters: Sequence[Meter], observed: Observed) -> tuple[Measure, ...]:
    kinds: dict[tuple[str, str, str | None], list[Meter]] = defaultdict(list)
    for meter in meters:
        value = None if meter.value is None else state_key(meter.value)
        kinds[(meter.device_type, meter.metric, value)].append(meter)
    found = []
    for (device_type, metric, _), own in sorted(kinds.items(), key=lambda kv: str(kv[0])):
        counter = own[0].counter
        used = [observed.of(m) for m in own]
        found.append(
            Measure(
                device_type=device_type,
                metric=metric,
                kind="counter" if counter else "state",
                value=own[0].value,
                description=next((m.description for m in own if m.description), ""),
                devices=len(own),
                facilities=len({m.facility_id for m in own}),
                readings=sum(u.readings for u in used),
                uses=round(sum(u.uses for u in used)) if counter else None,
                in_use_s=None if counter else sum(u.in_use_s for u in used),
            )
        )
    return tuple(found)


def figures(observed: Observed, *, idle: Idle = Idle(), top: int = 20) -> Figures:
    """The figures of ``observed`` (see the module's docstring); the ``top`` facilities
    least used."""
    of_facility: dict[int, list[Meter]] = defaultdict(list)
    for meter in observed.meters:
        of_facility[meter.facility_id].append(meter)
    listed = [
        _facility(facility, of_facility[facility.id], observed, idle)
        for facility in observed.facilities
        if of_facility.get(facility.id)
    ]
    listed.sort(
        key=lambda f: (
            not f.idle,
            f.category,
            f.uses if f.uses is not None else math.inf,
            f.in_use_s if f.in_use_s is not None else math.inf,
            f.name,
            f.facility_id,
        )
    )
    ids = {facility.id for facility in observed.facilities}
    return Figures(
        facilities=len(observed.facilities),
        measured=len(listed),
        idle=sum(f.idle for f in listed),
        silent=sum(f.silent for f in listed),
        uses=sum(f.uses or 0 for f in listed),
        in_use_s=sum(f.in_use_s or 0.0 for f in listed),
        measures=_measures([m for m in observed.meters if m.facility_id in ids], observed),
        least_used=tuple(listed[:top]),
    )


def grouped(observed: Observed, by: GroupBy, *, idle: Idle = Idle(), top: int = 20) -> list[Group]:
    """The figures of each group of the facilities (by community, zone, category or each
    facility), ordered by name then key."""
    found = []
    for key, name, rows in groups(observed.facilities, by):
        ids = {row.id for row in rows}
        own = [meter for meter in observed.meters if meter.facility_id in ids]
        of_group = Observed(rows, own, observed.used, observed.span_s)
        found.append(Group(key, name, figures(of_group, idle=idle, top=top)))
    return found


# -- reading the rows ------------------------------------------------------------------------


def silence_s(profile: Profile) -> float:
    """How long after a device's latest reading its state still counts: its profile's
    (shortest) silence rule, else :data:`SILENT_HEARTBEATS` heartbeats."""
    spans = [
        rule.silence.heartbeats * profile.heartbeat_s
        for rule in profile.rules
        if rule.silence is not None
    ]
    return min(spans, default=SILENT_HEARTBEATS * profile.heartbeat_s)


def meters(session: Session, catalogue: Catalogue, scope: Scope, period: Period) -> list[Meter]:
    """The measures of use of the devices of the facilities in scope, by device."""
    query = (
        select(Device.id, Device.facility_id, Device.profile, Device.device_type, Device.last_ts)
        .where(Device.facility_id.in_(in_scope(scope, period)))
        .order_by(Device.id)
    )
    found = []
    for device_pk, facility_id, profile_id, device_type, last_ts in session.execute(query):
        profile = catalogue.get(profile_id)
        usage = profile.usage if profile is not None else None
        if profile is None or usage is None:
            continue
        found.append(
            Meter(
                device_pk=device_pk,
                facility_id=facility_id,
                profile_id=profile_id,
                device_type=device_type,
                metric=usage.metric,
                value=usage.state.value if usage.state is not None else None,
                description=usage.description,
                silence_s=silence_s(profile),
                last_ts=last_ts,
            )
        )
    return found


def load(
    session: Session,
    store: TelemetryStore,
    catalogue: Catalogue,
    retention: Retention,
    scope: Scope,
    period: Period,
    now: datetime,
) -> Observed:
    """The facilities of ``scope`` in use in the period, their measures of use, and each
    measuring device's use in the period as the telemetry store's roll-ups say."""
    if period.empty:
        return Observed()
    facilities = facilities_of(session, scope, period)
    found = meters(session, catalogue, scope, period) if facilities else []
    reader = UsageReader(store, retention, now)
    counted = reader.plan(period.start, period.end)
    span = (min(counted.end, now) - counted.start).total_seconds()
    return Observed(facilities, found, reader.read(found, counted), max(span, 0.0))
