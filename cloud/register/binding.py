"""A device joining, leaving or changing its facility: one way for the API and site files.

A device heard from before anyone bound it is *unassigned*: its readings are kept and its
health judged, but a fault of it opens no ticket — there is no facility to repair yet. Bound
to a facility, it joins it: the facility's health follows, and every ticketed fault the device
has active at that moment opens a ticket (or attaches to the facility's open one), as if it had
just begun. Moved, both facilities' health follow; unbound, it is unassigned again and the
tickets already open stay with the facility they were opened for. Every change is kept in the
device's history (``device_moves``) with who made it, and its binding by gateway and device id
follows, so the device stays where it was put when it is heard from again.

Changing the device row bumps its version, so ingest (which keeps device state warm in memory)
reads it afresh before its next write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cloud.db.models import Device, DeviceBinding, DeviceMove, Facility, Gateway
from cloud.repair.desk import TicketDesk


class BindingRefused(Exception):
    """The facility cannot take the device (another community's, or archived)."""


def bind_device(
    session: Session,
    device: Device,
    facility: Facility | None,
    tickets: TicketDesk,
    *,
    actor: str,
    now: datetime,
) -> DeviceMove | None:
    """Put ``device`` in ``facility`` (None: unbind it), in the caller's transaction; the
    move recorded, or None if it was there already."""
    if facility is not None:
        _check(session, device, facility)
    binding = session.get(DeviceBinding, (device.gateway_id, device.device_id))
    if facility is None:
        if binding is not None:
            session.delete(binding)
    elif binding is None:
        session.add(
            DeviceBinding(
                gateway_id=device.gateway_id, device_id=device.device_id, facility_id=facility.id
            )
        )
    else:
        binding.facility_id = facility.id
    source = device.facility
    target_id = facility.id if facility is not None else None
    if device.facility_id == target_id:
        return None
    move = DeviceMove(
        device_pk=device.id,
        from_facility_id=device.facility_id,
        to_facility_id=target_id,
        at=now,
        actor=actor,
    )
    device.facility = facility
    session.add(move)
    session.flush()
    for changed in (source, facility):
        if changed is not None:
            session.refresh(changed, ["devices"])
            changed.refresh_health(now)
    if facility is not None:
        _faults_become_tickets(session, device, facility, tickets, now)
    return move


def _check(session: Session, device: Device, facility: Facility) -> None:
    gateway = session.get(Gateway, device.gateway_id)
    community = gateway.community_id if gateway is not None else None
    if facility.community_id != community:
        raise BindingRefused("a device joins only facilities of its gateway's community")
    if facility.archived_at is not None:
        raise BindingRefused(f"facility {facility.code} is archived")


def _faults_become_tickets(
    session: Session, device: Device, facility: Facility, tickets: TicketDesk, now: datetime
) -> None:
    profile = tickets.profile(device.profile)
    if profile is None:
        return
    for fault in sorted(device.faults):
        spec = profile.faults.get(fault)
        if spec is not None and spec.ticket:
            tickets.report(session, facility.id, device.id, profile, fault, onset=True, at=now)
