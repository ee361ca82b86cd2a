"""Tables of the register: communities, their zones and buildings, people, calendars and SLA
classes. (Gateways, facilities and devices, which ingest writes too, are in ``facilities``.)

A community is the boundary of who sees what: every row people read belongs to one, directly
or through its gateway or facility. Rows people made are archived, never deleted, so that
tickets and their history keep what they point to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base, Timestamp

DEFAULT_COMMUNITY = "default"
"""The slug of the community that data from before communities existed was put in."""


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    address: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    archived_at: Mapped[datetime | None] = mapped_column(Timestamp)
    gateway_offline: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    """the site file's ``gateway_offline``: after how long, and the ticket it opens"""


class Zone(Base):
    """An area or a building of a community."""

    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("community_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    slug: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="zone")
    archived_at: Mapped[datetime | None] = mapped_column(Timestamp)


class Person(Base):
    """Someone who works in a community: property manager, supervisor or maintainer."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("community_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    slug: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    skills: Mapped[list[str]] = mapped_column(default=list)
    duty_calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendars.id"))
    """when they are on duty (its opening hours); None: always"""
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    """how they hear of the ticket events that concern them (a site file's ``channels``,
    :class:`device_profiles.site.Channels`); empty: the defaults"""
    archived_at: Mapped[datetime | None] = mapped_column(Timestamp)


class PersonZone(Base):
    """A zone a person works in."""

    __tablename__ = "person_zones"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zones.id"), primary_key=True)


class BusinessCalendar(Base):
    """When business time runs in a community: opening hours per weekday, holidays."""

    __tablename__ = "calendars"
    __table_args__ = (UniqueConstraint("community_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    slug: Mapped[str] = mapped_column(String(63))
    hours: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{"mon": "08:30-17:30", …}``; a day not named is closed"""
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)
    """ISO dates"""


class SlaClass(Base):
    """How soon a ticket of the class must be acknowledged and resolved."""

    __tablename__ = "sla_classes"
    __table_args__ = (UniqueConstraint("community_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    slug: Mapped[str] = mapped_column(String(63))
    acknowledge_s: Mapped[float] = mapped_column(Float)
    resolve_s: Mapped[float] = mapped_column(Float)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("calendars.id"))
    by_priority: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    """targets of one priority that differ: ``{"urgent": {"acknowledge_s": 300, …}}``"""
    reopen_s: Mapped[float] = mapped_column(Float, default=7 * 86400, server_default="604800")
    """how long after closing a returning fault reopens the ticket (a repeat failure)"""


class PreventivePlan(Base):
    """Preventive maintenance by the calendar: the facilities of a category are serviced
    every ``every_s`` (a ticket each, when it falls due)."""

    __tablename__ = "preventive_plans"
    __table_args__ = (UniqueConstraint("community_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    slug: Mapped[str] = mapped_column(String(63))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    every_s: Mapped[float] = mapped_column(Float)
    skill: Mapped[str] = mapped_column(String(64))
    sla: Mapped[str] = mapped_column(String(63))
    priority: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(Timestamp)
    """when it was made: the first service falls due ``every_s`` after"""


class GroupingRule(Base):
    """Facilities of a category in one zone failing together within ``within_s``: from
    ``at_least`` of them on, one zone ticket lists them (:mod:`cloud.repair.zones`)."""

    __tablename__ = "grouping_rules"
    __table_args__ = (UniqueConstraint("community_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    slug: Mapped[str] = mapped_column(String(63))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zones.id"))
    """the zone it watches; None: each zone of the community"""
    faults: Mapped[list[str]] = mapped_column(JSON, default=list)
    """the faults it groups; empty: every fault that opens a ticket"""
    at_least: Mapped[int] = mapped_column(Integer)
    within_s: Mapped[float] = mapped_column(Float)
    skill: Mapped[str] = mapped_column(String(64))
    sla: Mapped[str] = mapped_column(String(63))
    priority: Mapped[str] = mapped_column(String(16))
