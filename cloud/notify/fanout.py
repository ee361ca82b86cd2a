"""Fan-out: each notice not yet fanned out becomes its deliveries — one per (recipient,
channel) — in one transaction with the mark that it was fanned out, so a notice is fanned out
once: on PostgreSQL the notices are taken ``FOR UPDATE SKIP LOCKED`` (notifiers in several
processes take different ones), and every delivery's key is unique, so a second fan-out of
the same notice could only fail, never double it.

For a notice of a community:

- each webhook of the community not archived whose kinds take it (``webhook``, target its id);
- the community's MQTT topic, when MQTT push is on (``mqtt``, target ``community``);
- each person it concerns (:func:`cloud.notify.rules.concerned`), by the channels they chose:
  ``email`` to their address, when an SMTP server is set and they have an address; ``mqtt``
  to their own topic, when MQTT push is on (target ``person-<id>``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.access.roles import Role
from cloud.db.models import Person
from cloud.db.notices import Delivery, Notice, Webhook
from cloud.notify.bodies import describe
from cloud.notify.push import community_topic, person_topic
from cloud.notify.rules import Channel, Team, channels_of, concerned, wanted_by_webhook, wants

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Routes:
    """The channels this deployment delivers by, beside the webhooks."""

    email: bool
    """an SMTP server is set"""
    mqtt: bool
    """MQTT push is on"""


def delivery_key(event_id: int, channel: Channel, target: str) -> str:
    """The idempotency key of a delivery: ``<event id>:<channel>:<target>``."""
    return f"{event_id}:{channel.value}:{target}"


class Fanout:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        routes: Routes,
        clock: Callable[[], datetime],
        *,
        batch: int = 200,
    ) -> None:
        self._sessions = sessions
        self._routes = routes
        self._clock = clock
        self.batch = batch

    def run(self) -> int:
        """Fan out the oldest notices not fanned out yet, at most a batch, in one
        transaction; how many."""
        query = (
            select(Notice)
            .where(Notice.fanned_out_at.is_(None))
            .order_by(Notice.id)
            .limit(self.batch)
        )
        with self._sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            notices = session.scalars(query).all()
            if notices:
                self.fan_out(session, notices, self._clock())
            return len(notices)

    def fan_out(self, session: Session, notices: Sequence[Notice], now: datetime) -> None:
        """Make the deliveries of ``notices`` in ``session`` and mark them fanned out."""
        bodies = describe(session, notices)
        communities = sorted({n.community_id for n in notices if n.community_id is not None})
        hooks: dict[int, list[Webhook]] = {}
        teams: dict[int, Team] = {}
        if communities:
            for hook in session.scalars(
                select(Webhook)
                .where(Webhook.community_id.in_(communities), Webhook.archived_at.is_(None))
                .order_by(Webhook.id)
            ):
                hooks.setdefault(hook.community_id, []).append(hook)
            teams = _teams(session, communities)
        wanted = {
            notice.id: concerned(
                notice.kind,
                state=notice.state,
                assignee_id=notice.assignee_id,
                evidence=bodies[notice.id].get("evidence"),
                team=teams.get(notice.community_id or 0, Team()),
            )
            for notice in notices
            if notice.community_id is not None
        }
        ids = sorted({p for people in wanted.values() for p in people})
        people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
        for notice in notices:
            body = bodies[notice.id]
            notice.body = body
            notice.fanned_out_at = now
            community = body.get("community")
            if notice.community_id is None or community is None:
                continue  # a gateway not provisioned: nobody's yet
            made: list[Delivery] = []
            for hook in hooks.get(notice.community_id, []):
                if wanted_by_webhook(hook.kinds, notice.kind):
                    made.append(
                        _delivery(notice, Channel.WEBHOOK, str(hook.id), webhook_id=hook.id)
                    )
            if self._routes.mqtt:
                topic = community_topic(community["slug"], notice.kind)
                made.append(_delivery(notice, Channel.MQTT, "community", address=topic))
            for person_id in wanted[notice.id]:
                person = people.get(person_id)
                if (
                    person is None
                    or person.archived_at is not None
                    or person.community_id != notice.community_id
                ):
                    continue
                channels = channels_of(person.channels)
                if not wants(channels, notice.kind):
                    continue
                target = f"person-{person.id}"
                if channels.email and person.email and self._routes.email:
                    made.append(
                        _delivery(
                            notice, Channel.EMAIL, target, address=person.email, person_id=person.id
                        )
                    )
                if channels.mqtt and self._routes.mqtt:
                    topic = person_topic(community["slug"], person.slug, notice.kind)
                    made.append(
                        _delivery(notice, Channel.MQTT, target, address=topic, person_id=person.id)
                    )
            for delivery in made:
                delivery.next_attempt_at = delivery.created_at = now
            session.add_all(made)


def _delivery(
    notice: Notice,
    channel: Channel,
    target: str,
    *,
    address: str = "",
    webhook_id: int | None = None,
    person_id: int | None = None,
) -> Delivery:
    return Delivery(
        notice_id=notice.id,
        key=delivery_key(notice.event_id, channel, target),
        channel=channel.value,
        target=target,
        community_id=notice.community_id,
        webhook_id=webhook_id,
        person_id=person_id,
        address=address,
        attempts=0,
        last_error="",
    )


def _teams(session: Session, communities: Sequence[int]) -> dict[int, Team]:
    """The supervisors and property managers at work in each community."""
    roles = (Role.SUPERVISOR.value, Role.PROPERTY_MANAGER.value)
    found: dict[int, tuple[list[int], list[int]]] = {c: ([], []) for c in communities}
    for person_id, community_id, role in session.execute(
        select(Person.id, Person.community_id, Person.role)
        .where(
            Person.community_id.in_(communities),
            Person.role.in_(roles),
            Person.archived_at.is_(None),
        )
        .order_by(Person.id)
    ):
        found[community_id][0 if role == Role.SUPERVISOR.value else 1].append(person_id)
    return {c: Team(tuple(s), tuple(m)) for c, (s, m) in found.items()}
