"""The health engine: applies readings to device and facility health and reports faults.

Rules come from the profiles and are evaluated by ``device_profiles.rules`` — the one
implementation shared with the edge. State follows event time, so readings that arrive
out of order (several ingest workers, a gateway flushing a backlog) never roll it back.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.models import Device, Gateway
from cloud.tickets import TicketDesk
from device_profiles import Catalogue, evaluate, health_of
from device_profiles.protocol import Item
from device_profiles.rules import RuleState, silent_faults

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
        state = RuleState.model_validate(device.rule_state) if device.rule_state else None
        verdict = evaluate(profile, item, state)
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
        device.rule_state = verdict.state.model_dump(mode="json")
        device.metrics = {**device.metrics, **item.metrics}
        device.last_ts = item.ts
        device.profile_version = item.profile_version
        device.facility.refresh_health(item.ts)

    def judge_silence(self, session: Session, now: datetime) -> int:
        """Raise silence-rule faults (e.g. ``offline``) on devices not heard from for too
        long; returns how many devices went silent. Devices behind a gateway that is itself
        offline are left alone: the gateway is what failed, and its status says so. Silence is
        counted from when the gateway last came online at the earliest, so devices rejoining
        a gateway that was down (or sending its backlog) get their heartbeats' time."""
        horizon = self._shortest_silence_s()
        if horizon is None:
            return 0
        cutoff = now - timedelta(seconds=horizon)
        quiet = session.execute(
            select(Device, Gateway.online_since)
            .join(Gateway, Gateway.id == Device.gateway_id)
            .where(Gateway.online.is_(True))
            .where(Device.last_seen_at <= cutoff)
            .where(or_(Gateway.online_since.is_(None), Gateway.online_since <= cutoff))
        )
        changed = 0
        for device, online_since in quiet.tuples():
            profile = self._catalogue.get(device.profile)
            if profile is None or device.last_seen_at is None:
                continue
            heard = _aware(device.last_seen_at)
            if online_since is not None:
                heard = max(heard, _aware(online_since))
            new = set(silent_faults(profile, heard, now)) - set(device.faults)
            if not new:
                continue
            changed += 1
            faults = set(device.faults) | new
            device.faults = sorted(faults)
            device.health = health_of(profile, faults).value
            for fault in sorted(new):
                if profile.faults[fault].ticket:
                    self._tickets.report(session, device, profile, fault, onset=True, at=now)
            device.facility.refresh_health(now)
        return changed

    def _shortest_silence_s(self) -> float | None:
        spans = [
            rule.silence.heartbeats * profile.heartbeat_s
            for profile in self._catalogue
            for rule in profile.rules
            if rule.silence is not None
        ]
        return min(spans, default=None)

    def sweep(self, sessions: sessionmaker[Session], now: datetime) -> int:
        """One silence check in its own transaction."""
        with sessions.begin() as session:
            return self.judge_silence(session, now)


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
