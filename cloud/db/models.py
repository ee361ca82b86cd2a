"""ORM models of the cloud's relational store (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.db.access import Account, ApiToken, WebSession
from cloud.db.base import Base, Timestamp, UtcDateTime
from cloud.db.notices import Delivery, Notice, Webhook
from cloud.db.register import (
    BusinessCalendar,
    Community,
    GroupingRule,
    Person,
    PersonZone,
    PreventivePlan,
    SlaClass,
    Zone,
)
from cloud.repair.lifecycle import State as TicketState
from device_profiles import Health, worst

__all__ = [
    "Account",
    "ApiToken",
    "Base",
    "BusinessCalendar",
    "Community",
    "Delivery",
    "GroupingRule",
    "Notice",
    "Person",
    "PersonZone",
    "PreventivePlan",
    "SlaClass",
    "TicketState",
    "Timestamp",
    "UtcDateTime",
    "WebSession",
    "Webhook",
    "Zone",
]


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


class Reading(Base):
    """One canonical reading as ingested; ``id`` is the item id stamped on the edge.

    A reading is stored once: ``(ts, id)`` is unique. An item is fixed where it is made —
    a gateway sends it again with the same id and the same event time — so this is the
    item id's uniqueness, held by an index that grows at its time end. (A unique index on
    the random id alone cost a page write per reading in SQLite, whose log writes whole
    pages: see docs/performance.md.) ``pk`` is the storage order.
    """

    __tablename__ = "readings"
    __table_args__ = (Index("uq_readings_ts_id", "ts", "id", unique=True),)

    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(64))
    device_pk: Mapped[int] = mapped_column(Integer)
    """The device's ``devices.id``; not checked by a foreign key, which on PostgreSQL was most
    of the server's work per reading stored: devices are never deleted, and ingest takes the
    device of each reading from the same transaction (docs/performance.md)."""
    ts: Mapped[datetime] = mapped_column(Timestamp)
    """Event time as the device (or the edge) stamped it, even when it could not be trusted."""
    received_at: Mapped[datetime] = mapped_column(Timestamp)
    profile_version: Mapped[str] = mapped_column(String(32))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    faults: Mapped[list[str]] = mapped_column(default=list)
    ts_suspect: Mapped[bool] = mapped_column(default=False, server_default=false())
    """``ts`` lay beyond the allowed clock skew in the future (as the gateway or the cloud
    saw it): the reading was judged at its receipt time instead."""


class IngestedBatch(Base):
    """A batch the cloud has stored; a batch sent again (same gateway, epoch and seq) is
    acknowledged as a duplicate and not stored twice. Batches stored before epochs existed
    have the epoch ``''``, which no gateway can send."""

    __tablename__ = "ingested_batches"

    gateway_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    epoch: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ingested_at: Mapped[datetime] = mapped_column(Timestamp)
    items: Mapped[int] = mapped_column(Integer)


class DataGap(Base):
    """Readings a gateway had to drop (its outbox reached its disk budget, or the disk was
    full), as the gateway reported them: one record per device and stretch of time, stored
    once by its id (a batch sent again stores nothing twice). The device is named as the
    gateway knows it; a device whose every reading was dropped may have no row yet."""

    __tablename__ = "data_gaps"
    __table_args__ = (
        Index("ix_data_gaps_device", "gateway_id", "device_id", "last_ts"),
        Index("ix_data_gaps_gateway", "gateway_id", "last_ts"),
    )

    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(64), unique=True)
    gateway_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(128))
    first_ts: Mapped[datetime] = mapped_column(Timestamp)
    last_ts: Mapped[datetime] = mapped_column(Timestamp)
    items: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    epoch: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(BigInteger)
    """the batch that brought it"""
    received_at: Mapped[datetime] = mapped_column(Timestamp)


NOT_CLOSED = "state NOT IN ('closed', 'cancelled')"
"""The tickets still being worked on (or verified): at most one per (subject, fault)."""


def facility_subject(facility_id: int) -> str:
    return f"facility:{facility_id}"


def zone_subject(zone_id: int) -> str:
    return f"zone:{zone_id}"


def gateway_subject(gateway_id: str) -> str:
    return f"gateway:{gateway_id}"


def _facility_subject_default(context: Any) -> str:
    facility_id = context.get_current_parameters()["facility_id"]
    if facility_id is None:
        raise ValueError("a ticket with no facility needs its subject")
    return facility_subject(facility_id)


class Ticket(Base):
    """A repair ticket: one not yet closed per (subject, fault); its life is
    :mod:`cloud.repair.lifecycle`.

    Its **subject** is what failed: a facility (most tickets), a zone whose facilities
    failed together (:mod:`cloud.repair.grouping`; the facilities are its ``members``), or
    a gateway gone offline (its devices are then unknown, not faulty)."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index(
            "uq_tickets_one_not_closed",
            "subject",
            "fault",
            unique=True,
            sqlite_where=text(NOT_CLOSED),
            postgresql_where=text(NOT_CLOSED),
        ),
        Index("ix_tickets_state", "state"),
        Index("ix_tickets_wake_at", "wake_at"),
        Index("ix_tickets_assignee", "assignee_id", "state"),
        Index("ix_tickets_closed", "facility_id", "fault", "reopen_until"),
        Index("ix_tickets_community", "community_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), default=_facility_subject_default)
    """``facility:<id>``, ``zone:<id>`` or ``gateway:<id>`` (by default its facility's)"""
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    """its subject's community (None: a facility of a gateway never provisioned)"""
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    """its subject's zone: the facility's, the zone of a zone ticket, the gateway's"""
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    """the facility of a facility ticket; None for a zone's or a gateway's"""
    gateway_id: Mapped[str | None] = mapped_column(ForeignKey("gateways.id"))
    """the gateway of a gateway ticket"""
    device_pk: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    """the device whose data shows the fault; None for a fault no device reports"""
    fault: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16), index=True)
    skill: Mapped[str] = mapped_column(String(64))
    sla: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=TicketState.OPEN.value)
    observable: Mapped[bool] = mapped_column(default=True, server_default=true())
    """whether the facility's data shows the fault: then a repair is verified by the data,
    else confirmed by a supervisor"""
    verify_s: Mapped[float] = mapped_column(default=0, server_default="0")
    """how long the fault must stay away after a repair for it to hold"""
    linked_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    """the reported ticket this one is part of the repair of"""
    opened_by: Mapped[str | None] = mapped_column(String(100))
    """who opened it by hand (None: Linli, from the data)"""
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    repeats: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """times the fault came back after a repair, within the reopen window"""
    opened_at: Mapped[datetime] = mapped_column(Timestamp)
    last_seen_at: Mapped[datetime] = mapped_column(Timestamp)
    fault_cleared_at: Mapped[datetime | None] = mapped_column(Timestamp)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    assigned_at: Mapped[datetime | None] = mapped_column(Timestamp)
    acknowledged_at: Mapped[datetime | None] = mapped_column(Timestamp)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """when its maintainer last said it is repaired"""
    verify_until: Mapped[datetime | None] = mapped_column(Timestamp)
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    cancelled_at: Mapped[datetime | None] = mapped_column(Timestamp)
    reopen_until: Mapped[datetime | None] = mapped_column(Timestamp)
    """closed: until when the fault's return reopens this ticket rather than a new one"""
    sla_since: Mapped[datetime | None] = mapped_column(Timestamp)
    """when its resolution target started counting: when it opened, or last reopened"""
    respond_from: Mapped[datetime | None] = mapped_column(Timestamp)
    """when its response target started counting: as ``sla_since``, or when it was last
    given to another maintainer"""
    respond_by: Mapped[datetime | None] = mapped_column(Timestamp)
    resolve_by: Mapped[datetime | None] = mapped_column(Timestamp)
    respond_breached_at: Mapped[datetime | None] = mapped_column(Timestamp)
    resolve_breached_at: Mapped[datetime | None] = mapped_column(Timestamp)
    sla_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """steps of the escalation of the running target taken (:mod:`cloud.repair.sla`)"""
    escalation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """how far up it went: 0 its maintainer, 1 supervisors, 2 property managers"""
    reminded_at: Mapped[datetime | None] = mapped_column(Timestamp)
    wake_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """when the repair rounds must look at it next (a reminder, escalation, verification)"""

    facility: Mapped[Facility | None] = relationship()
    device: Mapped[Device | None] = relationship()
    assignee: Mapped[Person | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id"
    )
    members: Mapped[list[TicketFacility]] = relationship(
        back_populates="ticket", order_by="TicketFacility.joined_at"
    )

    @property
    def scope(self) -> str:
        """facility, zone or gateway: what its subject is"""
        return self.subject.partition(":")[0]


class TicketFacility(Base):
    """A facility of a zone ticket: it failed with the others of its zone."""

    __tablename__ = "ticket_facilities"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    facility_id: Mapped[int] = mapped_column(
        ForeignKey("facilities.id"), primary_key=True, index=True
    )
    device_pk: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    fault: Mapped[str] = mapped_column(String(64))
    """the fault it showed"""
    joined_at: Mapped[datetime] = mapped_column(Timestamp)
    cleared_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """when its fault cleared (None: still failing)"""

    ticket: Mapped[Ticket] = relationship(back_populates="members")
    facility: Mapped[Facility] = relationship()
    device: Mapped[Device | None] = relationship()


class TicketEvent(Base):
    """Something that happened to a ticket: opened, repeated, fault_cleared, its moves,
    reminders and escalations."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(Timestamp)
    kind: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    item_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(100))
    """Who did it: a user name, ``token:<name>``; None for what Linli's rules did."""
    actor_kind: Mapped[str] = mapped_column(String(16), default="rule", server_default="rule")
    """person, token, rule or resident"""
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """what the data showed: the reading that reopened it, who an escalation went to"""

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class OutboundCommand(Base):
    """A command for a device, written in the transaction that decided it (a repair's
    self-test) and sent through its gateway by an ingest worker afterwards."""

    __tablename__ = "outbound_commands"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """the command's id on the wire: a device ignores a repeat"""
    gateway_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(128))
    command: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    sent_at: Mapped[datetime | None] = mapped_column(Timestamp, index=True)


class DeadLetter(Base):
    """An MQTT message the cloud could not ingest, kept whole (topic and payload bytes) with
    the reason, so that it can be replayed once its cause is fixed."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(Timestamp, index=True)
    topic: Mapped[str] = mapped_column(Text)
    gateway_id: Mapped[str | None] = mapped_column(String(64))
    """The gateway the topic names, if it names one."""
    category: Mapped[str] = mapped_column(String(32))
    """Why, in one word: ``invalid``, ``gateway``, ``topic``, ``error`` (``unknown`` before
    categories were kept)."""
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    replayed_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """When a replay stored it (or found it stored already); None while it waits."""
    replay_result: Mapped[str | None] = mapped_column(Text)


class TelemetryRollup(Base):
    """One metric of one device over a minute or an hour (``step`` seconds from ``start``),
    as Linli rolls raw readings up (``cloud.telemetry``); kept longer than raw readings.

    Numbers have ``min``, ``max`` and ``mean``; state metrics have ``shares``, the fraction of
    ``covered`` seconds each value held; ``last`` is the value in force at the bucket's end."""

    __tablename__ = "telemetry_rollups"
    __table_args__ = (Index("ix_telemetry_rollups_step_start", "step", "start"),)

    device_pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    min: Mapped[float | None] = mapped_column()
    max: Mapped[float | None] = mapped_column()
    mean: Mapped[float | None] = mapped_column()
    shares: Mapped[dict[str, Any] | None] = mapped_column()
    covered: Mapped[float] = mapped_column()
    last: Mapped[Any | None] = mapped_column(JSON)


class RollupDue(Base):
    """A bucket whose data changed since it was last rolled up: a minute (``step`` 60) as an
    ingest writer marked it, or an hour (``step`` 3600) as the roll-up job marked it after
    rolling up its minutes; ``start`` counts seconds since 1970 (UTC). Each writer marks its
    own rows, so that writers never wait for each other's transactions; ``marks`` grows with
    each new mark, so that the job removes a mark only if none came after it read it."""

    __tablename__ = "rollup_due"

    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    writer: Mapped[str] = mapped_column(String(64), primary_key=True)
    marks: Mapped[int] = mapped_column(BigInteger)


class MaintenanceWindow(Base):
    """A facility, or every facility of a zone, under maintenance until ``ends_at``: faults
    are recorded but open no tickets; when it ends, what is still faulty opens them then."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (Index("ix_maintenance_unsettled", "settled_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    starts_at: Mapped[datetime] = mapped_column(Timestamp)
    ends_at: Mapped[datetime] = mapped_column(Timestamp)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    ended_by: Mapped[str | None] = mapped_column(String(100))
    """who ended it before its time, if someone did"""
    settled_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """when the tickets of what was still faulty at its end were opened"""


class TicketPhoto(Base):
    """A photo a maintainer took of a repair (resolving a ticket from their phone): the
    file is in the cloud's photo store under ``photo_id``; ``event_id`` is the move's
    event, whose evidence names it too."""

    __tablename__ = "ticket_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("ticket_events.id"))
    photo_id: Mapped[str] = mapped_column(String(64), unique=True)
    taken_by: Mapped[str] = mapped_column(String(100))
    """the user name of who sent it"""
    at: Mapped[datetime] = mapped_column(Timestamp)


class FacilityLink(Base):
    """The unguessable link of a facility's resident page (``/r/<token>``, its QR code):
    made when first asked for, replaced when a manager rotates it."""

    __tablename__ = "facility_links"

    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(Timestamp)


class ResidentReport(Base):
    """A resident's report of a broken facility, or their "me too", from its page: the
    ticket it became part of, and the unguessable token of its status page."""

    __tablename__ = "resident_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    """of its status page, ``/r/status/<token>``"""
    kind: Mapped[str] = mapped_column(String(16))
    """``report`` or ``me_too``"""
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(Timestamp)
    description: Mapped[str] = mapped_column(Text, default="")
    photo_id: Mapped[str | None] = mapped_column(String(64), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    """for the maintainer to call back; never shown on a resident's page"""
