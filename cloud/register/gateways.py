"""Gateways provisioned and retired: one way for the API and site files.

Ingest hears a gateway only once it is provisioned for a community, and no longer once it is
retired (:mod:`cloud.ingest.roster`). A gateway belongs to one community for good: its
batches, devices and their history are that community's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.db.models import Facility, Gateway, NewDevices, UnknownGateway


class RegisterConflict(Exception):
    """What was asked contradicts the register (a gateway of another community)."""


def provision_gateway(
    session: Session,
    gateway_id: str,
    community_id: int,
    *,
    name: str,
    zone_id: int | None,
    new_devices: NewDevices,
    now: datetime,
    revive: bool,
) -> tuple[Gateway, bool]:
    """Provision ``gateway_id`` for the community, or update it there; (the gateway, whether
    anything changed). A retired gateway is taken back only if ``revive``. It leaves the list
    of unknown gateways."""
    values = {
        "name": name,
        "zone_id": zone_id,
        "community_id": community_id,
        "new_devices": new_devices.value,
    }
    session.execute(delete(UnknownGateway).where(UnknownGateway.id == gateway_id))
    gateway = session.get(Gateway, gateway_id)
    if gateway is None:
        gateway = Gateway(
            id=gateway_id,
            online=False,
            counters={},
            first_seen_at=now,
            provisioned_at=now,
            **values,
        )
        session.add(gateway)
        session.flush()
        return gateway, True
    if gateway.community_id not in (None, community_id):
        raise RegisterConflict(
            f"gateway {gateway_id} belongs to another community (id {gateway.community_id}) "
            "for good: give the gateway there a new id"
        )
    changed = False
    if gateway.provisioned_at is None:
        gateway.provisioned_at = now
        changed = True
    if revive and gateway.retired_at is not None:
        gateway.retired_at = None
        changed = True
    for key, value in values.items():
        if getattr(gateway, key) != value:
            setattr(gateway, key, value)
            changed = True
    # facilities of devices heard from before it was provisioned join its community
    for facility in session.scalars(
        select(Facility).where(Facility.gateway_id == gateway_id, Facility.community_id.is_(None))
    ):
        facility.community_id = community_id
    session.flush()
    return gateway, changed


def retire_gateway(gateway: Gateway, now: datetime) -> bool:
    """Stop hearing ``gateway`` (its devices and history stay); whether it changed."""
    if gateway.retired_at is not None:
        return False
    gateway.retired_at = now
    return True
