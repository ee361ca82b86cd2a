"""Tables of notifications: the transactional outbox of ticket events (``notices``), the
deliveries each is fanned out into, and the communities' webhook subscriptions.

A notice is written in the transaction that writes its ticket event
(:func:`cloud.repair.events.record`), so a notice exists exactly when its event does. The
notifier (:mod:`cloud.notify`) fans each out once into deliveries — one per (recipient,
channel), each with its idempotency ``key`` — and sends them, at least once, after the
commit that wrote them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.db.base import Base, Timestamp

if TYPE_CHECKING:
    from cloud.db.models import Ticket, TicketEvent

PENDING = "fanned_out_at IS NULL"
DUE = "delivered_at IS NULL AND dead_at IS NULL"


class Notice(Base):
    """A ticket event that people or integrations are told of: the outbox row written with
    the event. Where it belongs and whom it concerns are kept as they were at the event (a
    ticket may be reassigned before the notifier gets to it)."""

    __tablename__ = "notices"
    __table_args__ = (
        Index(
            "ix_notices_pending", "id", sqlite_where=text(PENDING), postgresql_where=text(PENDING)
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    """the order notices were written in: the live stream's event ids"""
    event_id: Mapped[int] = mapped_column(ForeignKey("ticket_events.id"), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(Timestamp)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    """the ticket's community (None: a facility of a gateway never provisioned)"""
    zone_id: Mapped[int | None] = mapped_column(Integer)
    """the ticket's zone then: a maintainer's live stream shows their zones'"""
    assignee_id: Mapped[int | None] = mapped_column(Integer)
    """who had the ticket just after the event"""
    state: Mapped[str] = mapped_column(String(16))
    """the ticket's state just after the event"""
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """what its deliveries send, fixed when it was fanned out (every retry sends the same)"""
    fanned_out_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """when its deliveries were made; None: not yet"""

    ticket: Mapped[Ticket] = relationship()
    event: Mapped[TicketEvent] = relationship()


class Delivery(Base):
    """One notice to one recipient by one channel, sent at least once: tried until its
    receiver took it, again after ``next_attempt_at`` with growing delays, and dead-lettered
    after the last attempt allowed."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            sqlite_where=text(DUE),
            postgresql_where=text(DUE),
        ),
        Index("ix_deliveries_notice", "notice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    key: Mapped[str] = mapped_column(String(120), unique=True)
    """the idempotency key, ``<event id>:<channel>:<target>``: the same on every attempt, so
    a receiver that keeps the keys it has seen takes each notification once"""
    channel: Mapped[str] = mapped_column(String(16))
    """webhook, email or mqtt"""
    target: Mapped[str] = mapped_column(String(64))
    """the webhook's id, the person's (``person-<id>``), or ``community``"""
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"), index=True)
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhooks.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    address: Mapped[str] = mapped_column(String(500), default="")
    """where it goes: an e-mail address, an MQTT topic (a webhook's URL is read when sent)"""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(Timestamp)
    """when it may be tried next; while an attempt is under way, when that attempt may be
    taken for lost (its notifier died) and made again"""
    delivered_at: Mapped[datetime | None] = mapped_column(Timestamp)
    dead_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """when it was given up (dead-lettered) after its last attempt allowed"""
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(Timestamp)

    notice: Mapped[Notice] = relationship()


class Webhook(Base):
    """A community's webhook subscription: ticket events POSTed to ``url``, signed with
    ``secret`` (HMAC-SHA256). The secret is kept as it is — it signs every delivery — and
    shown only when made."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    """the kinds of event it wants; empty: every kind that notifies"""
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    archived_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """when it was archived: nothing more is sent to it"""
