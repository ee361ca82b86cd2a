"""Tables of what is installed: gateways (and unknown ones that knocked), facilities, the
devices that report on them, and how devices are bound to facilities and moved between
them. Ingest writes them too; the register owns them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.db.base import Base, Timestamp
from device_profiles import Health, worst


class NewDevices(StrEnum):
    """What a gateway's devices become when first heard from without a binding."""

    UNASSIGNED = "unassigned"
    """kept, readings and all, unassigned until bound to a facility"""
    OWN_FACILITY = "own-facility"
    """each a facility of its own (named after its profile), in the gateway's zone"""


class Gateway(Base):
    """A community gateway running an edge agent."""

    __tablename__ = "gateways"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    online: Mapped[bool] = mapped_column(default=False)
    status_at: Mapped[datetime | None] = mapped_column(Timestamp)
    online_since: Mapped[datetime | None] = mapped_column(Timestamp)
    """When it last came online: its devices' silence is counted from then at the earliest."""
    heard_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """When a batch of it was last stored: with ``status_at``, when it was last heard."""
    counters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    epoch: Mapped[str | None] = mapped_column(String(32))
    """The gateway's current epoch: the one of the latest batch from an epoch not seen before."""
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    """The highest ``seq`` stored in the current epoch."""
    first_seen_at: Mapped[datetime] = mapped_column(Timestamp)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    """The community it is provisioned for (a site file or the API); None: heard from
    without being provisioned."""
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    provisioned_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """When it was provisioned; None: heard from before provisioning was required."""
    retired_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """When it was retired: its batches are no longer taken, as an unknown gateway's."""
    new_devices: Mapped[str] = mapped_column(
        String(16), default=NewDevices.UNASSIGNED.value, server_default="unassigned"
    )
    """What a device no site file or API call bound becomes when first heard from."""

    @property
    def provisioned(self) -> bool:
        return self.provisioned_at is not None and self.retired_at is None


class UnknownGateway(Base):
    """A gateway heard from that is not provisioned (or is retired): its batches were not
    taken. Kept for operator admins, so a forgotten provisioning step shows at once."""

    __tablename__ = "unknown_gateways"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(Timestamp)
    last_seen_at: Mapped[datetime] = mapped_column(Timestamp)
    batches: Mapped[int] = mapped_column(BigInteger, default=0)
    """batches refused (each try of a batch counts)"""
    readings: Mapped[int] = mapped_column(BigInteger, default=0)
    statuses: Mapped[int] = mapped_column(BigInteger, default=0)
    """status messages ignored"""
    reason: Mapped[str] = mapped_column(String(16))
    """``unknown`` (never provisioned) or ``retired``"""


class Facility(Base):
    """A shared facility residents use: a gate, a light, an alarm point.

    One a site file names has the site's id as ``code`` and no ``gateway_id`` (its devices
    may be behind several gateways); a device heard from before any binding gets one of its
    own, ``code`` its device id under its gateway."""

    __tablename__ = "facilities"
    __table_args__ = (
        UniqueConstraint("gateway_id", "code"),
        Index(
            "uq_facilities_community_code",
            "community_id",
            "code",
            unique=True,
            sqlite_where=text("gateway_id IS NULL"),
            postgresql_where=text("gateway_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[str | None] = mapped_column(ForeignKey("gateways.id"), index=True)
    code: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    """Its gateway's community; None while that gateway is not provisioned."""
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    health: Mapped[str] = mapped_column(String(16), default="ok", index=True)
    health_since: Mapped[datetime] = mapped_column(Timestamp)
    archived_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """When it was archived (taken out of use); its tickets and history are kept."""

    devices: Mapped[list[Device]] = relationship(back_populates="facility")

    def refresh_health(self, at: datetime) -> None:
        """A facility is as healthy as its worst device."""
        health = worst([Health(d.health) for d in self.devices]).value
        if health != self.health:
            self.health = health
            self.health_since = at


class Device(Base):
    """A device behind a gateway, with its latest state (event-time ordered).

    ``version`` grows with every change of the row, whoever makes it: the ORM checks and
    bumps it (a version column), ingest's bulk updates do so explicitly. Ingest keeps device
    state warm in memory and writes it back only where the version is still the one it
    read, so a change made meanwhile — by the silence sweep, a resolved maintenance ticket,
    an operator, another worker — is never overwritten: ingest reloads that device and
    judges its readings again.
    """

    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("gateway_id", "device_id"),
        # the silence sweep reads the devices whose last_seen_at a time passed (cloud/silence)
        Index("ix_devices_last_seen", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"))
    device_id: Mapped[str] = mapped_column(String(128))
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    """None: unassigned (heard from, not yet bound to a facility)."""
    device_type: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(64))
    profile_version: Mapped[str] = mapped_column(String(32))
    health: Mapped[str] = mapped_column(String(16), default="ok")
    faults: Mapped[list[str]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rule_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the rules remember (``RuleState.to_json()``) without its clock: the event time
    of the latest reading is ``last_ts``."""
    last_ts: Mapped[datetime | None] = mapped_column(Timestamp)
    """Event time of the latest reading judged (its receipt time if its own was not to be
    trusted): an older reading never changes the state."""
    last_seen_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """When the cloud last stored a reading of it (its clock): what silence is counted from."""
    version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    facility: Mapped[Facility | None] = relationship(back_populates="devices")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class DeviceBinding(Base):
    """Which facility a device belongs to, by its gateway's name for it: set from a site file
    or the API, also before the device is first heard from (ingest then registers it there)."""

    __tablename__ = "device_bindings"

    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)


class DeviceMove(Base):
    """A device moved from one facility to another, by whom and when."""

    __tablename__ = "device_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    from_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    """None: it was unassigned"""
    to_facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    """None: it was unbound"""
    at: Mapped[datetime] = mapped_column(Timestamp)
    actor: Mapped[str] = mapped_column(String(100))
