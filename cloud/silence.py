"""Silent devices, found in proportion to those that fell silent: :class:`SilenceSweep`.

A profile's silence rule (``offline`` after so many missed heartbeats) raises its fault on
a device not heard from for the rule's span. A device falls silent when ``now - span``
passes its ``last_seen_at``; ``last_seen_at`` only moves forward. So each sweep looks only at
the devices whose ``last_seen_at`` lies between the previous sweep's ``now - span`` and this
one's, a range read from the index ``ix_devices_last_seen``: at a million devices a sweep
reads the few that fell silent since the last, not the million, nor every device that went
silent long ago. The first sweep of a process has no previous one and reads every device
past its span, once.

Silence is counted from when a device's gateway last came online at the earliest (its
devices could not be heard while it was down), and devices behind a gateway that is offline
are left alone: the gateway is what failed (:mod:`cloud.repair.gateways` opens its one
ticket). So the devices of a gateway that came online ``span`` ago are looked at too,
through the gateway. Nor is a device blamed while its gateway has not been heard since the
device fell silent — a cut cable silences the gateway and all its devices at once, and the
gateway's last will may come only after the devices' spans have passed: such a device is
*pending*, looked at again every sweep until its gateway is heard (it is silent then) or
goes offline (it is left alone).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session

from cloud.db.models import Device, Gateway
from cloud.repair.desk import TicketDesk
from cloud.repair.gateways import last_word
from device_profiles import Catalogue, health_of
from device_profiles.rules import silent_faults

log = logging.getLogger(__name__)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time Linli stores is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SweepResult:
    looked_at: int
    """devices read: those that may have fallen silent since the previous sweep"""
    went_silent: int
    """devices that got a silence fault now"""


class SilenceSweep:
    """Raises silence faults on devices that fell silent since the previous sweep."""

    def __init__(self, catalogue: Catalogue, tickets: TicketDesk) -> None:
        self._catalogue = catalogue
        self._tickets = tickets
        spans: dict[float, set[str]] = defaultdict(set)
        for profile in catalogue:
            for rule in profile.rules:
                if rule.silence is not None:
                    spans[rule.silence.heartbeats * profile.heartbeat_s].add(profile.id)
        self._spans = {timedelta(seconds=s): sorted(ids) for s, ids in sorted(spans.items())}
        """each silence span, with the profiles having a rule of that span"""
        self._span_of = {p: span for span, ids in reversed(self._spans.items()) for p in ids}
        """each profile's shortest silence span"""
        self._pending: set[int] = set()
        """devices silent past their span whose gateway was not heard since: looked at again
        every sweep until it is (then they are silent) or they are heard (then they are not)"""
        self._next_pending: set[int] = set()
        self.swept_at: datetime | None = None
        """``now`` of the last sweep that committed (the next one starts from there)"""

    def judge(self, session: Session, now: datetime) -> SweepResult:
        """Raise the silence faults due at ``now`` in ``session`` (not committed). Call
        :meth:`committed` once it is."""
        candidates = self._candidates(session, now) | self._pending
        if not candidates:
            return SweepResult(0, 0)
        quiet = session.execute(
            select(Device, Gateway)
            .join(Gateway, Gateway.id == Device.gateway_id)
            .where(Device.id.in_(sorted(candidates)), Gateway.online.is_(True))
        )
        changed = 0
        pending: set[int] = set()
        for device, gateway in quiet.tuples():
            profile = self._catalogue.get(device.profile)
            if profile is None or device.last_seen_at is None:
                continue
            heard = _aware(device.last_seen_at)
            if gateway.online_since is not None:
                heard = max(heard, _aware(gateway.online_since))
            new = set(silent_faults(profile, heard, now)) - set(device.faults)
            if not new:
                continue
            word = last_word(gateway)
            span = self._span_of.get(device.profile)
            if word is None or (span is not None and word < heard + span):
                pending.add(device.id)  # its gateway not heard since either: not its fault
                continue
            changed += 1
            faults = set(device.faults) | new
            device.faults = sorted(faults)
            device.health = health_of(profile, faults).value
            facility = device.facility
            if facility is None:  # unassigned: tickets wait until it is bound to a facility
                continue
            for fault in sorted(new):
                if profile.faults[fault].ticket:
                    self._tickets.report(
                        session, facility.id, device.id, profile, fault, onset=True, at=now
                    )
            facility.refresh_health(now)
        self._next_pending = pending
        return SweepResult(len(candidates), changed)

    def committed(self, now: datetime) -> None:
        """The sweep at ``now`` committed: the next looks only at what fell silent since."""
        if self.swept_at is None or now > self.swept_at:
            self.swept_at = now
        self._pending = self._next_pending

    def _candidates(self, session: Session, now: datetime) -> set[int]:
        """Devices that may have fallen silent since the previous sweep, by id: those whose
        ``last_seen_at`` a span passed, and those of gateways whose return a span passed."""
        found: set[int] = set()
        for query in self.queries(now):
            found.update(session.scalars(query))
        before = self.swept_at
        if before is None:  # the first sweep's queries took every device past its span
            return found
        for span, profiles in self._spans.items():
            upper = now - span
            back = session.scalars(
                select(Gateway.id).where(
                    Gateway.online_since > before - span, Gateway.online_since <= upper
                )
            ).all()
            if back:  # rare: read through the gateway's devices, not the time index
                found.update(
                    session.scalars(
                        select(Device.id).where(
                            Device.gateway_id.in_(back),
                            Device.last_seen_at <= upper,
                            Device.profile.in_(profiles),
                        )
                    )
                )
        return found

    def queries(self, now: datetime) -> list[Select[tuple[int]]]:
        """For each silence span, the devices whose ``last_seen_at`` a sweep at ``now``
        passed since the previous sweep: a range of the index ``ix_devices_last_seen``."""
        queries: list[Select[tuple[int]]] = []
        before = self.swept_at
        for span, profiles in self._spans.items():
            upper = now - span
            seen = Device.last_seen_at <= upper
            if before is not None:
                if before >= now:
                    continue
                seen = and_(Device.last_seen_at > before - span, seen)
            queries.append(select(Device.id).where(seen, Device.profile.in_(profiles)))
        return queries
