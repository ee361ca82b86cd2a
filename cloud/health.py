"""The health engine: applies readings to device and facility health and reports faults.

Rules come from the profiles and are applied by their compiled plans
(``device_profiles.rule_plans``) — the one implementation shared with the edge. Ingest
judges a whole group of readings in memory (:meth:`HealthEngine.judge`, device by device in
event-time order), then settles what follows in the database at once
(:meth:`HealthEngine.settle`): tickets only where a fault is reported, starts or ends,
facilities only where a device's health changed.

State follows event time, so readings that arrive out of order (several ingest workers, a
gateway flushing a backlog) never roll it back. A reading whose own time lies further in
the future than ``future_skew`` allows (a device whose clock is wrong, as its gateway or
the cloud sees it) is judged at its receipt time, so one reading stamped in 2100 cannot
freeze its device.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.models import Device, Facility
from cloud.ingest.devices import DeviceState
from cloud.ingest.staged_devices import FULL, SEEN, STATE
from cloud.repair.desk import TicketDesk
from cloud.silence import SilenceSweep
from device_profiles import Catalogue, Health, Profile, worst
from device_profiles.rules import RulePlan, plan_for
from device_profiles.wire import SomeItem

log = logging.getLogger(__name__)

DEFAULT_FUTURE_SKEW = timedelta(minutes=5)
_HEALTH_TEXT = {health: health.value for health in Health}


@dataclass(frozen=True, slots=True)
class TicketCall:
    """A ticket to touch once the readings are judged: a fault ``reported`` active
    (``onset``: it was not active before) or ``cleared``."""

    cleared: bool
    facility_id: int
    device_pk: int
    profile: Profile
    fault: str
    onset: bool
    at: datetime
    item_id: str | None
    metrics: Mapping[str, Any] | None = None
    """what the reading said: the evidence when it reopens a repair"""


@dataclass
class Judgement:
    """What judging a group of readings leaves to do in the database."""

    tickets: list[TicketCall] = field(default_factory=list)
    facilities: list[tuple[int, datetime, int, str]] = field(default_factory=list)
    """(facility_id, at, device_pk, new health of the device), in event-time order"""
    unjudged: Counter[str] = field(default_factory=Counter)
    """readings of profiles the cloud does not know, by profile"""


class HealthEngine:
    def __init__(
        self,
        catalogue: Catalogue,
        tickets: TicketDesk,
        *,
        future_skew: timedelta = DEFAULT_FUTURE_SKEW,
    ) -> None:
        self._catalogue = catalogue
        self._tickets = tickets
        self._future_skew = future_skew
        self._rules: dict[str, tuple[Profile, RulePlan, frozenset[str]]] = {}
        self.silence = SilenceSweep(catalogue, tickets)
        """Finds the devices that fell silent."""

    @property
    def tickets(self) -> TicketDesk:
        return self._tickets

    def horizon(self, now: datetime) -> datetime:
        """The latest event time trusted at ``now``."""
        return now + self._future_skew

    def event_time(self, item: SomeItem, now: datetime) -> tuple[datetime, bool]:
        """When ``item`` happened as far as state is concerned, and whether its own time was
        not to be trusted: flagged by its gateway, or beyond ``future_skew`` ahead of the
        cloud's clock. Then its receipt time counts (the cloud's, should that be ahead too).
        """
        horizon = now + self._future_skew
        ts = item.ts
        if ts <= horizon and not getattr(item, "ts_suspect", False):
            return ts, False
        received = item.received_at
        return (received if received <= horizon else now), True

    def judge(
        self,
        state: DeviceState,
        item: SomeItem,
        ts: datetime,
        now: datetime,
        judgement: Judgement,
    ) -> None:
        """Take one newly stored reading at event time ``ts`` into ``state`` (in memory);
        what the database must hear of goes into ``judgement``."""
        state.last_seen_at = now
        rules = self._rules.get(item.profile) or self._rules_of(item.profile)
        if rules is None:
            judgement.unjudged[item.profile] += 1
            if state.changed < SEEN:
                state.changed = SEEN
            return
        profile, plan, ticketed = rules
        verdict = plan.judge(ts, item.metrics, item.faults, state.rules)
        faults = verdict.faults
        last = state.last_ts
        is_latest = last is None or ts >= last
        facility_id = state.facility_id  # None: unassigned, its tickets wait for a binding
        if faults and ticketed and facility_id is not None:
            previous = state.faults if is_latest else faults
            calls = judgement.tickets
            for fault in faults:
                if fault in ticketed:
                    calls.append(
                        TicketCall(
                            False,
                            facility_id,
                            state.pk,
                            profile,
                            fault,
                            fault not in previous,
                            ts,
                            item.id,
                            item.metrics,
                        )
                    )
        if not is_latest:
            if state.changed < SEEN:
                state.changed = SEEN
            return
        level = STATE
        before = state.faults
        if before != faults:
            level = FULL
            for fault in before:
                if fault not in faults and fault in ticketed and facility_id is not None:
                    judgement.tickets.append(
                        TicketCall(True, facility_id, state.pk, profile, fault, False, ts, None)
                    )
            state.faults = faults
        health = _HEALTH_TEXT[verdict.health]
        if health != state.health:
            state.health = health
            if facility_id is not None:
                judgement.facilities.append((facility_id, ts, state.pk, health))
        memory = verdict.state
        stored = state.stored_rules
        if level != FULL and (
            memory.active != stored.active
            or memory.holding_since != stored.holding_since
            or memory.onsets != stored.onsets
            or memory.counter_base != stored.counter_base
        ):
            level = FULL
        state.rules = memory
        metrics = item.metrics
        known = state.metrics
        state.metrics = metrics if known.keys() <= metrics.keys() else {**known, **metrics}
        state.metrics_json = None
        state.last_ts = ts
        state.last_ts_param = None
        state.profile_version = item.profile_version
        if state.changed < level:
            state.changed = level

    def _rules_of(self, profile_id: str) -> tuple[Profile, RulePlan, frozenset[str]] | None:
        """A known profile's compiled rules and ticketed faults (kept); None if unknown."""
        profile = self._catalogue.get(profile_id)
        if profile is None:
            return None
        ticketed = frozenset(name for name, fault in profile.faults.items() if fault.ticket)
        found = (profile, plan_for(profile), ticketed)
        self._rules[profile_id] = found
        return found

    def settle(self, session: Session, judgement: Judgement) -> None:
        """Touch the tickets and facilities a judged group of readings changes."""
        calls = judgement.tickets
        if calls:
            desk = self._tickets
            desk.preload(session, {(call.facility_id, call.fault) for call in calls})
            for call in calls:
                if call.cleared:
                    desk.fault_cleared(session, call.facility_id, call.fault, call.at)
                else:
                    desk.report(
                        session,
                        call.facility_id,
                        call.device_pk,
                        call.profile,
                        call.fault,
                        onset=call.onset,
                        at=call.at,
                        item_id=call.item_id,
                        metrics=call.metrics,
                    )
            session.flush()
        if judgement.facilities:
            _refresh_facilities(session.connection(), judgement.facilities)
        for profile_id, readings in judgement.unjudged.items():
            log.warning(
                "no profile %r in the cloud catalogue; health of %d reading(s) not judged",
                profile_id,
                readings,
            )

    def judge_silence(self, session: Session, now: datetime) -> int:
        """Raise silence-rule faults (e.g. ``offline``) on devices that fell silent since the
        last sweep (:class:`cloud.silence.SilenceSweep`); how many did."""
        return self.silence.judge(session, now).went_silent

    def sweep(self, sessions: sessionmaker[Session], now: datetime) -> int:
        """One silence check in its own transaction; how many devices went silent."""
        with sessions.begin() as session:
            went_silent = self.judge_silence(session, now)
            opened = self._tickets.opened(session)
        self.silence.committed(now)
        self._tickets.count_opened(opened)
        return went_silent


_FACILITIES = cast(Table, Facility.__table__)
_FACILITY_HEALTH = (
    update(_FACILITIES)
    .where(_FACILITIES.c.id == bindparam("b_id"))
    .values(health=bindparam("b_health"), health_since=bindparam("b_since"))
)


def _refresh_facilities(
    connection: Connection, changes: list[tuple[int, datetime, int, str]]
) -> None:
    """A facility is as healthy as its worst device: replay the device health changes in
    event-time order over the facilities' devices as stored, and write what changed."""
    facility_ids = sorted({change[0] for change in changes})
    current: dict[int, list[object]] = {}
    members: dict[int, dict[int, str]] = {fid: {} for fid in facility_ids}
    for start in range(0, len(facility_ids), 500):
        chunk = facility_ids[start : start + 500]
        rows = connection.execute(
            select(Facility.id, Facility.health, Facility.health_since).where(
                Facility.id.in_(chunk)
            )
        )
        for facility_id, health, since in rows:
            current[facility_id] = [health, since]
        devices = connection.execute(
            select(Device.id, Device.facility_id, Device.health).where(
                Device.facility_id.in_(chunk)
            )
        )
        for device_pk, facility_id, health in devices:
            members[facility_id][device_pk] = health
    changed: set[int] = set()
    for facility_id, at, device_pk, health in changes:
        found = current.get(facility_id)
        if found is None:
            continue
        members[facility_id][device_pk] = health
        healths = [Health(h) for h in members[facility_id].values()]
        now_health = worst(healths).value
        if now_health != found[0]:
            found[0], found[1] = now_health, at
            changed.add(facility_id)
    if changed:
        connection.execute(
            _FACILITY_HEALTH,
            [
                {"b_id": fid, "b_health": current[fid][0], "b_since": current[fid][1]}
                for fid in sorted(changed)
            ],
        )


async def watch_silence(
    health: HealthEngine, sessions: sessionmaker[Session], every_s: float
) -> None:
    """Check for silent devices every ``every_s`` seconds until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        try:
            went_silent = await asyncio.to_thread(health.sweep, sessions, datetime.now(UTC))
        except SQLAlchemyError:
            log.exception("silence check failed; trying again in %ss", every_s)
            continue
        if went_silent:
            log.info("%d device(s) went silent", went_silent)
