"""Deliveries taken for an attempt and settled after it, a batch in a short transaction —
no transaction is open while a channel waits on the network.

Taking a delivery counts the attempt and moves its ``next_attempt_at`` a lease ahead; the
sending notifier owns it until then. Settling it sets ``delivered_at``; or, after a failure,
the next attempt ``retry_first_s · 2^(attempt-1)`` later (at most ``retry_max_s``); or, after
the last attempt allowed, ``dead_at`` (a dead letter, kept with its last error). A notifier
that dies between sending and settling leaves the delivery to be taken again when its lease
ends: it is sent again, with the same key — at least once, never lost.

Taking is guarded by the attempt count (``UPDATE … WHERE attempts = <as read>``), and on
PostgreSQL the rows are read ``FOR UPDATE SKIP LOCKED``: of notifiers in several processes,
one takes each delivery.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import CursorResult, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.notices import Delivery, Notice, Webhook
from cloud.notify.rules import Channel
from cloud.notify.senders import Outgoing


@dataclass(frozen=True)
class RetryPolicy:
    first_s: float = 10.0
    max_s: float = 3600.0
    max_attempts: int = 10
    lease_s: float = 120.0
    """how long an attempt may take before the delivery is taken for lost and made again"""

    def delay(self, attempt: int) -> timedelta:
        """How long after failed attempt number ``attempt`` (from 1) the next is made."""
        return timedelta(seconds=min(self.max_s, self.first_s * 2.0 ** max(attempt - 1, 0)))


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    """to be tried again"""
    DEAD = "dead"
    """given up after the last attempt allowed"""


class Deliveries:
    """The ``deliveries`` table, as notifiers take and settle its rows."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        policy: RetryPolicy,
        clock: Callable[[], datetime],
        *,
        batch: int = 100,
    ) -> None:
        self._sessions = sessions
        self.policy = policy
        self._clock = clock
        self.batch = batch

    def take(self) -> list[Outgoing]:
        """The deliveries due now, oldest first, at most a batch, each taken for one attempt
        (and dead at once, if its webhook was archived meanwhile)."""
        now = self._clock()
        due = (
            select(Delivery.id, Delivery.attempts)
            .where(
                Delivery.delivered_at.is_(None),
                Delivery.dead_at.is_(None),
                Delivery.next_attempt_at <= now,
            )
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(self.batch)
        )
        lease = now + timedelta(seconds=self.policy.lease_s)
        with self._sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            taken: list[int] = []
            for delivery_id, attempts in session.execute(due).all():
                result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                    update(Delivery)
                    .where(Delivery.id == delivery_id, Delivery.attempts == attempts)
                    .values(attempts=attempts + 1, next_attempt_at=lease)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:
                    taken.append(delivery_id)
            if not taken:
                return []
            rows = session.execute(
                select(Delivery, Notice.kind, Notice.body, Webhook)
                .join(Notice, Notice.id == Delivery.notice_id)
                .outerjoin(Webhook, Webhook.id == Delivery.webhook_id)
                .where(Delivery.id.in_(taken))
                .order_by(Delivery.id)
            ).all()
            outgoing: list[Outgoing] = []
            for delivery, kind, body, hook in rows:
                address, secret = delivery.address, None
                if delivery.channel == Channel.WEBHOOK.value:
                    if hook is None or hook.archived_at is not None:
                        delivery.dead_at = now
                        delivery.last_error = f"webhook {delivery.webhook_id} was archived"
                        continue
                    address, secret = hook.url, hook.secret
                outgoing.append(
                    Outgoing(
                        id=delivery.id,
                        key=delivery.key,
                        channel=Channel(delivery.channel),
                        kind=kind,
                        attempt=delivery.attempts,
                        body=body or {},
                        address=address,
                        secret=secret,
                    )
                )
            return outgoing

    def settle(self, outgoing: Outgoing, error: str | None) -> Outcome:
        """Record how the attempt ``outgoing`` went: None, delivered; else the error."""
        return self.settle_all([(outgoing, error)])[0]

    def settle_all(self, attempts: Sequence[tuple[Outgoing, str | None]]) -> list[Outcome]:
        """Record how each attempt went (None: delivered; else the error), all in one
        transaction: a round of attempts costs the database one commit, not one each."""
        now = self._clock()
        outcomes: list[Outcome] = []
        with self._sessions.begin() as session:
            for outgoing, error in attempts:
                values: dict[str, Any]
                if error is None:
                    outcome = Outcome.SENT
                    values = {"delivered_at": now, "last_error": ""}
                elif outgoing.attempt >= self.policy.max_attempts:
                    outcome = Outcome.DEAD
                    values = {"dead_at": now, "last_error": error[:2000]}
                else:
                    outcome = Outcome.FAILED
                    values = {
                        "next_attempt_at": now + self.policy.delay(outgoing.attempt),
                        "last_error": error[:2000],
                    }
                where = [Delivery.id == outgoing.id, Delivery.delivered_at.is_(None)]
                if error is not None:  # unless taken again meanwhile (this attempt ran late)
                    where.append(Delivery.attempts == outgoing.attempt)
                session.execute(
                    update(Delivery)
                    .where(*where)
                    .values(values)
                    .execution_options(synchronize_session=False)
                )
                outcomes.append(outcome)
        return outcomes

    def prune(self, before: datetime, *, rows: int = 5000) -> tuple[int, int]:
        """Forget what was settled before ``before``: deliveries sent or dead-lettered then,
        and notices fanned out then with no delivery left — ``rows`` at most a transaction,
        so that nothing waits long for the database. The ticket events they came from stay
        (they are the tickets' history), and so does the newest notice, whose id the live
        stream counts on (SQLite would give a new notice a freed id). Deliveries and notices
        forgotten."""
        settled = or_(Delivery.delivered_at < before, Delivery.dead_at < before)
        deliveries = self._delete(Delivery, select(Delivery.id).where(settled), rows)
        with self._sessions() as session:
            newest = session.scalar(select(func.max(Notice.id))) or 0
        old = select(Notice.id).where(
            Notice.fanned_out_at < before,
            Notice.id < newest,
            ~exists().where(Delivery.notice_id == Notice.id),
        )
        return deliveries, self._delete(Notice, old, rows)

    def _delete(self, table: type[Delivery] | type[Notice], ids: Any, rows: int) -> int:
        gone = 0
        while True:
            with self._sessions.begin() as session:
                chosen = session.scalars(ids.limit(rows)).all()
                if chosen:
                    session.execute(
                        delete(table)
                        .where(table.id.in_(chosen))
                        .execution_options(synchronize_session=False)
                    )
            gone += len(chosen)
            if len(chosen) < rows:
                return gone


def revive(delivery: Delivery, now: datetime) -> None:
    """Give a dead letter its attempts again, from ``now``."""
    delivery.dead_at = None
    delivery.attempts = 0
    delivery.next_attempt_at = now
