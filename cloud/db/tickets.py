"""Tables of the repair loop: tickets (their subject a facility, a zone or a gateway), the
facilities a zone ticket lists, ticket events, commands a repair sends, maintenance
windows, repair photos, residents' links and reports."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.db.base import Base, Timestamp
from cloud.db.facilities import Device, Facility
from cloud.db.register import Person


class TicketState(StrEnum):
    """The states a ticket is in; how it moves between them is :mod:`cloud.repair.lifecycle`."""

    OPEN = "open"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    """a maintainer says it is repaired; waits for a supervisor's confirmation"""
    VERIFYING = "verifying"
    """a maintainer says it is repaired; waits for the facility's own data"""
    CLOSED = "closed"
    CANCELLED = "cancelled"


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
    failed together (:mod:`cloud.repair.zones`; the facilities are its ``members``), or
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
