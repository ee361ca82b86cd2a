"""Gateways gone offline: one ticket for the gateway, not one per device behind it.

A gateway is **heard** when it sends a status (retained on connect, every
``status_interval_s``, its last will when its connection dies) or a batch is stored from
it; its *last word* is the later of the two (``status_at``, ``heard_at``). It is **down**
when its last word is older than its community's ``gateway_offline.after`` (site file;
default 2 minutes) — whether its last will said offline or nothing came at all (a cut
cable, a dead power supply, a broker that never saw the connection drop). It is **up** again
when it is online and has been heard within that time.

The repair rounds (:meth:`GatewayWatch.round`) open a ticket ``gateway_offline`` whose
subject is the gateway when it goes down, note the fault cleared when it is up again, mark
it repeated when it goes down again before its repair, and reopen it when it goes down while
its repair is being verified. The verification itself is :mod:`cloud.repair.witness`'s.

Its devices are not faulty meanwhile: the silence sweep blames a device only once its
gateway has been heard after the device fell silent (:mod:`cloud.silence`), and the API
shows them ``unknown`` with the reason ``gateway offline`` while its status says offline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloud.db.models import Community, Gateway, Ticket
from cloud.repair.desk import TicketDesk
from cloud.repair.events import record
from cloud.repair.lifecycle import State
from cloud.repair.tickets import LIVE, Subject

GATEWAY_OFFLINE = "gateway_offline"
"""The fault of a gateway ticket."""


@dataclass(frozen=True)
class OfflineRule:
    """A community's ``gateway_offline`` (site file): after how long a gateway not heard
    is down, and the ticket that opens."""

    after_s: float = 120.0
    skill: str = "general-repair"
    sla: str = "urgent"
    priority: str = "high"
    verify_s: float = 300.0

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> OfflineRule:
        known = {k: v for k, v in (stored or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


def last_word(gateway: Gateway) -> datetime | None:
    """When the gateway was last heard: its latest status or stored batch."""
    heard = [t for t in (gateway.status_at, gateway.heard_at) if t is not None]
    return max(heard) if heard else None


def is_down(gateway: Gateway, now: datetime, after_s: float) -> bool:
    """Heard once, not within ``after_s``."""
    word = last_word(gateway)
    return word is not None and word <= now - timedelta(seconds=after_s)


def is_up(gateway: Gateway, now: datetime, after_s: float) -> bool:
    word = last_word(gateway)
    return gateway.online and word is not None and word > now - timedelta(seconds=after_s)


@dataclass
class GatewayRound:
    opened: int = 0
    """gateway tickets opened"""
    back: int = 0
    """gateways up again whose ticket noted the fault cleared"""
    again: int = 0
    """gateways down again while their ticket was live (repeated or reopened)"""


class GatewayWatch:
    """Opens, clears and reopens gateway tickets; each community's rule read every
    ``keep_s`` seconds."""

    def __init__(self, desk: TicketDesk, keep_s: float = 30.0) -> None:
        self._desk = desk
        self._keep_s = keep_s
        self._rules: dict[int, OfflineRule] = {}
        self._read_at: float | None = None

    def rule(self, session: Session, community_id: int | None) -> OfflineRule:
        if self._read_at is None or time.monotonic() - self._read_at >= self._keep_s:
            self._rules = {
                c.id: OfflineRule.of(c.gateway_offline) for c in session.scalars(select(Community))
            }
            self._read_at = time.monotonic()
        found = self._rules.get(community_id) if community_id is not None else None
        return found or OfflineRule()

    def round(self, session: Session, now: datetime) -> GatewayRound:
        """Gateways down open or repeat their ticket; those up again clear it."""
        result = GatewayRound()
        self.rule(session, None)
        shortest = min((r.after_s for r in self._rules.values()), default=OfflineRule.after_s)
        cutoff = now - timedelta(seconds=min(shortest, OfflineRule.after_s))
        quiet = session.scalars(
            select(Gateway).where(
                Gateway.provisioned_at.is_not(None),
                Gateway.retired_at.is_(None),
                Gateway.community_id.is_not(None),
                or_(Gateway.status_at.is_not(None), Gateway.heard_at.is_not(None)),
                or_(Gateway.status_at.is_(None), Gateway.status_at <= cutoff),
                or_(Gateway.heard_at.is_(None), Gateway.heard_at <= cutoff),
            )
        ).all()
        down = {
            g.id: g for g in quiet if is_down(g, now, self.rule(session, g.community_id).after_s)
        }
        live: dict[str, Ticket] = {
            t.gateway_id: t
            for t in session.scalars(
                select(Ticket).where(
                    Ticket.fault == GATEWAY_OFFLINE,
                    Ticket.state.in_(LIVE),
                    Ticket.gateway_id.is_not(None),
                )
            )
            if t.gateway_id is not None
        }
        for gateway_id, gateway in sorted(down.items()):
            ticket = live.get(gateway_id)
            if ticket is None:
                if self._open(session, gateway, now) is not None:
                    result.opened += 1
            elif self._down_again(session, ticket, gateway, now):
                result.again += 1
        for gateway_id, ticket in sorted(live.items(), key=lambda item: item[1].id):
            if gateway_id in down or ticket.fault_cleared_at is not None:
                continue
            back = session.get(Gateway, gateway_id)
            if back is None:
                continue
            after_s = self.rule(session, back.community_id).after_s
            if is_up(back, now, after_s):
                word = last_word(back) or now
                ticket.fault_cleared_at = word
                record(
                    session,
                    ticket,
                    "fault_cleared",
                    at=word,
                    evidence={"online_since": _iso(back.online_since)},
                )
                result.back += 1
        return result

    def _open(self, session: Session, gateway: Gateway, now: datetime) -> Ticket | None:
        rule = self.rule(session, gateway.community_id)
        word = last_word(gateway)
        name = gateway.name or gateway.id
        said = "its last will said offline" if not gateway.online else "nothing came from it"
        return self._desk.open_root_cause(
            session,
            Subject.gateway(gateway),
            GATEWAY_OFFLINE,
            title=f"Gateway {name} offline",
            skill=rule.skill,
            sla=rule.sla,
            priority=rule.priority,
            at=now,
            verify_s=rule.verify_s,
            note=f"not heard since {_iso(word)}: {said}; its devices are unknown until it is back",
        )

    def _down_again(
        self, session: Session, ticket: Ticket, gateway: Gateway, now: datetime
    ) -> bool:
        """The gateway is down and its ticket live: a repair under verification did not
        hold; a fault noted cleared came back."""
        if ticket.state in (State.VERIFYING.value, State.RESOLVED.value):
            resolved = ticket.resolved_at
            if resolved is not None and now > resolved:
                return self._desk.reopen_by_data(
                    session,
                    ticket,
                    now,
                    {"gateway_id": gateway.id, "heard": _iso(last_word(gateway))},
                )
        if ticket.fault_cleared_at is not None:
            ticket.fault_cleared_at = None
            ticket.occurrences += 1
            ticket.last_seen_at = now
            record(session, ticket, "repeated", at=now)
            return True
        return False


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
