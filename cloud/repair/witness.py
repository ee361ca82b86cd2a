"""What the data says about a repair: the witness the repair rounds verify it by.

After a repair has been verified for ``verify_s``, the rounds ask :func:`verdict`:

- a **facility** ticket: its device, heard from since the repair, no longer reports the
  fault (*gone*), or still does (*still*); not heard from since: *wait*;
- a **zone** ticket: every facility it lists, by the device that showed the fault: gone when
  all were heard from since the repair without it, still when one was heard with it;
- a **gateway** ticket: the gateway online and heard since the repair (gone); its last will
  or silence since (still, judged by :mod:`cloud.repair.gateways` within its ``after``).

A ticket with nothing to verify by (opened by hand for what no device reports) has no
verdict: a supervisor confirms it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from cloud.db.models import Device, Gateway, Ticket
from cloud.repair.gateways import last_word


class Verdict(StrEnum):
    GONE = "gone"
    STILL = "still"
    WAIT = "wait"
    NONE = "none"
    """nothing to verify by"""


@dataclass
class Testimony:
    verdict: Verdict
    evidence: dict[str, Any] = field(default_factory=dict)


def verdict(session: Session, ticket: Ticket, resolved: datetime) -> Testimony:
    """What the data since ``resolved`` says of ``ticket``'s fault."""
    if ticket.gateway_id is not None:
        return _gateway(session, ticket.gateway_id, resolved)
    if ticket.members:
        found = [_device(m.device, m.fault, resolved) for m in ticket.members]
        if any(t.verdict is Verdict.STILL for t in found):
            still = [t.evidence for t in found if t.verdict is Verdict.STILL]
            return Testimony(Verdict.STILL, {"still": still})
        if all(t.verdict is Verdict.GONE for t in found):
            return Testimony(Verdict.GONE, {"facilities": len(found)})
        return Testimony(Verdict.WAIT)
    if ticket.device is None:
        return Testimony(Verdict.NONE)
    return _device(ticket.device, ticket.fault, resolved)


def _device(device: Device | None, fault: str, resolved: datetime) -> Testimony:
    if device is None:
        return Testimony(Verdict.WAIT)
    heard = device.last_seen_at
    if heard is None or heard <= resolved:  # its data since the repair decides
        return Testimony(Verdict.WAIT)
    if fault in device.faults:
        return Testimony(
            Verdict.STILL,
            {
                "device_pk": device.id,
                "faults": list(device.faults),
                "metrics": dict(device.metrics),
            },
        )
    return Testimony(Verdict.GONE, {"device_pk": device.id, "last_seen_at": heard.isoformat()})


def _gateway(session: Session, gateway_id: str, resolved: datetime) -> Testimony:
    gateway = session.get(Gateway, gateway_id)
    word = last_word(gateway) if gateway is not None else None
    if gateway is None or word is None or word <= resolved:
        return Testimony(Verdict.WAIT)
    evidence = {"gateway_id": gateway_id, "heard": word.isoformat()}
    if not gateway.online:
        return Testimony(Verdict.STILL, evidence)
    return Testimony(Verdict.GONE, evidence)
