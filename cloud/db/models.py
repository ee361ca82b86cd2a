"""ORM models of the cloud's relational store (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from device_profiles import Health, worst


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}  # noqa: RUF012


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, stored as UTC and always read back timezone-aware.

    SQLite keeps no offset: without this an aware non-UTC time was stored as its local
    wall-clock time, and every time came back naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


Timestamp = UtcDateTime()


class TicketState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Gateway(Base):
    """A community gateway running an edge agent."""

    __tablename__ = "gateways"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    online: Mapped[bool] = mapped_column(default=False)
    status_at: Mapped[datetime | None] = mapped_column(Timestamp)
    online_since: Mapped[datetime | None] = mapped_column(Timestamp)
    """When it last came online: its devices' silence is counted from then at the earliest."""
    counters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    epoch: Mapped[str | None] = mapped_column(String(32))
    """The gateway's current epoch: the one of the latest batch from an epoch not seen before."""
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    """The highest ``seq`` stored in the current epoch."""
    first_seen_at: Mapped[datetime] = mapped_column(Timestamp)


class Facility(Base):
    """A shared facility residents use: a gate, a light, an alarm point."""

    __tablename__ = "facilities"
    __table_args__ = (UniqueConstraint("gateway_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"), index=True)
    code: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str | None] = mapped_column(String(64))
    health: Mapped[str] = mapped_column(String(16), default="ok", index=True)
    health_since: Mapped[datetime] = mapped_column(Timestamp)

    devices: Mapped[list[Device]] = relationship(back_populates="facility")

    def refresh_health(self, at: datetime) -> None:
        """A facility is as healthy as its worst device."""
        health = worst([Health(d.health) for d in self.devices]).value
        if health != self.health:
            self.health = health
            self.health_since = at


class Device(Base):
    """A device behind a gateway, with its latest state (event-time ordered)."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("gateway_id", "device_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    gateway_id: Mapped[str] = mapped_column(ForeignKey("gateways.id"))
    device_id: Mapped[str] = mapped_column(String(128))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    device_type: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(64))
    profile_version: Mapped[str] = mapped_column(String(32))
    health: Mapped[str] = mapped_column(String(16), default="ok")
    faults: Mapped[list[str]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rule_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_ts: Mapped[datetime | None] = mapped_column(Timestamp)
    last_seen_at: Mapped[datetime | None] = mapped_column(Timestamp)

    facility: Mapped[Facility] = relationship(back_populates="devices")


class Reading(Base):
    """One canonical reading as ingested; ``id`` is the item id stamped on the edge."""

    __tablename__ = "readings"
    __table_args__ = (Index("ix_readings_device_ts", "device_pk", "ts"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    ts: Mapped[datetime] = mapped_column(Timestamp)
    received_at: Mapped[datetime] = mapped_column(Timestamp)
    profile_version: Mapped[str] = mapped_column(String(32))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    faults: Mapped[list[str]] = mapped_column(default=list)


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


class Ticket(Base):
    """A repair ticket: one per (facility, fault) while it is not resolved."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index(
            "uq_tickets_one_unresolved",
            "facility_id",
            "fault",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
        Index("ix_tickets_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"))
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    fault: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16), index=True)
    skill: Mapped[str] = mapped_column(String(64))
    sla: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=TicketState.OPEN.value)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(Timestamp)
    last_seen_at: Mapped[datetime] = mapped_column(Timestamp)
    fault_cleared_at: Mapped[datetime | None] = mapped_column(Timestamp)
    acknowledged_at: Mapped[datetime | None] = mapped_column(Timestamp)
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp)

    facility: Mapped[Facility] = relationship()
    device: Mapped[Device] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id"
    )


class TicketEvent(Base):
    """Something that happened to a ticket: opened, repeated, fault_cleared, transitions."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(Timestamp)
    kind: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    item_id: Mapped[str | None] = mapped_column(String(64))

    ticket: Mapped[Ticket] = relationship(back_populates="events")


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
