"""The health engine: applies readings to device and facility health and reports faults.

Rules come from the profiles and are evaluated by ``device_profiles.rules`` — the one
implementation shared with the edge. State follows event time, so readings that arrive
out of order (several ingest workers, a gateway flushing a backlog) never roll it back.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from cloud.db.models import Device, Facility
from cloud.tickets import TicketDesk
from device_profiles import Catalogue, Health, evaluate, worst
from device_profiles.protocol import Item

log = logging.getLogger(__name__)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time Linli stores is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class HealthEngine:
    def __init__(self, catalogue: Catalogue, tickets: TicketDesk) -> None:
        self._catalogue = catalogue
        self._tickets = tickets

    def apply(self, session: Session, device: Device, item: Item) -> None:
        """Take one newly stored reading into account."""
        profile = self._catalogue.get(item.profile)
        if profile is None:
            log.warning(
                "no profile %r in the cloud catalogue; health of %s not judged",
                item.profile,
                device.device_id,
            )
            return
        verdict = evaluate(profile, item)
        ticketed = [f for f in verdict.faults if profile.faults[f].ticket]
        is_latest = device.last_ts is None or item.ts >= _aware(device.last_ts)
        previous = set(device.faults) if is_latest else set(verdict.faults)
        for fault in ticketed:
            self._tickets.report(
                session,
                device,
                profile,
                fault,
                onset=fault not in previous,
                at=item.ts,
                item_id=item.id,
            )
        if not is_latest:
            return
        for fault in previous - set(verdict.faults):
            if fault in profile.faults and profile.faults[fault].ticket:
                self._tickets.fault_cleared(session, device, fault, item.ts)
        device.faults = list(verdict.faults)
        device.health = verdict.health.value
        device.metrics = {**device.metrics, **item.metrics}
        device.last_ts = item.ts
        device.profile_version = item.profile_version
        self.refresh_facility(device.facility, item.ts)

    @staticmethod
    def refresh_facility(facility: Facility, at: datetime) -> None:
        """A facility is as healthy as its worst device."""
        health = worst([Health(d.health) for d in facility.devices]).value
        if health != facility.health:
            facility.health = health
            facility.health_since = at
