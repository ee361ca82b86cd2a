"""The transactional outbox, on SQLite and PostgreSQL: a notice is written with its ticket
event or not at all; fan-out makes each notice's deliveries by the rule, once; a delivery is
taken for an attempt, settled after it, backs off, is dead-lettered, and is taken again when
its notifier died with it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from cloud.db.models import Ticket, TicketEvent
from cloud.db.notices import Delivery, Notice, Webhook
from cloud.notify.deliveries import Deliveries, Outcome, RetryPolicy
from cloud.notify.fanout import Fanout, Routes
from cloud.notify.rules import NOTIFYING
from cloud.notify.senders import Outgoing
from cloud.repair.lifecycle import Actor, Move
from cloud.repair.tickets import By
from cloud.services import Services
from tests.cloud.notify.conftest import Clock, notifier_of
from tests.cloud.repair.community import FRIDAY_1630, events, fault

ALL = Routes(email=True, mqtt=True)


def notices(services: Services) -> list[Notice]:
    with services.sessions() as session:
        return list(session.scalars(select(Notice).order_by(Notice.id)))


def keys(services: Services) -> set[str]:
    with services.sessions() as session:
        return set(session.scalars(select(Delivery.key)))


def community_of_notices(services: Services) -> int:
    """The community the first notice belongs to (oak's)."""
    with services.sessions() as session:
        community = session.scalars(select(Notice.community_id)).first()
    assert community is not None
    return community


def add_webhook(services: Services, community_id: int, kinds: list[str]) -> int:
    with services.sessions.begin() as session:
        hook = Webhook(
            community_id=community_id,
            name="board",
            url="http://127.0.0.1:9/hooks",
            secret="whsec_test",
            kinds=kinds,
            created_by="test",
            created_at=FRIDAY_1630,
        )
        session.add(hook)
        session.flush()
        return hook.id


def test_each_notifying_event_is_written_with_its_notice(
    services: Services, oak: dict[str, int]
) -> None:
    """Opened by ingest, assigned by the rounds, the fault back while it is worked on (a
    ``repeated`` event: no notice), acknowledged by its maintainer."""
    ticket_id = fault(services, FRIDAY_1630)
    services.rounds.run(services.sessions, FRIDAY_1630)
    fault(services, FRIDAY_1630 + timedelta(minutes=1), "normal", seq=2)
    fault(services, FRIDAY_1630 + timedelta(minutes=2), seq=3)
    wang = By(Actor.MAINTAINER, "wang", "person", oak["wang"])
    with services.sessions.begin() as session:
        services.tickets.move(session, ticket_id, Move.ACKNOWLEDGE, wang, at=FRIDAY_1630)

    kinds = [e.kind for e in events(services, ticket_id)]
    assert "repeated" in kinds
    written = notices(services)
    assert [n.kind for n in written] == [k for k in kinds if k in NOTIFYING]
    assert [n.kind for n in written] == ["opened", "assigned", "acknowledged"]
    with services.sessions() as session:
        by_event = {e.id: e for e in session.scalars(select(TicketEvent))}
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        community = ticket.community_id
        assert community is not None
    for notice in written:
        assert by_event[notice.event_id].kind == notice.kind
        assert notice.community_id == community and notice.ticket_id == ticket_id
        assert notice.fanned_out_at is None and notice.body is None
    opened, assigned, acknowledged = written
    assert (opened.state, opened.assignee_id) == ("open", None)
    assert (assigned.state, assigned.assignee_id) == ("assigned", oak["wang"])
    assert acknowledged.state == "acknowledged"


def test_an_event_rolled_back_leaves_no_notice(services: Services, oak: dict[str, int]) -> None:
    ticket_id = fault(services, FRIDAY_1630)
    before = len(notices(services))
    with pytest.raises(RuntimeError), services.sessions.begin() as session:
        services.tickets.move(
            session, ticket_id, Move.ASSIGN, By(Actor.RULE), at=FRIDAY_1630, assignee_id=oak["wang"]
        )
        session.flush()
        raise RuntimeError("the transaction fails after the move")
    assert len(notices(services)) == before
    assert "assigned" not in [e.kind for e in events(services, ticket_id)]


def test_fan_out_makes_each_notices_deliveries_by_the_rule_once(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    """Opened: every webhook that takes it, the community's topic, the supervisor and the
    property manager by e-mail. Assigned: the webhooks, the topic, and Wang — by e-mail and
    on his own topic, as he chose. Li wants no e-mail and is not concerned anyway."""
    ticket_id = fault(services, FRIDAY_1630)
    services.rounds.run(services.sessions, FRIDAY_1630)
    community = community_of_notices(services)
    every = add_webhook(services, community, [])
    only_assigned = add_webhook(services, community, ["assigned"])
    fanout = Fanout(services.sessions, ALL, clock)

    assert fanout.run() == 2
    assert fanout.run() == 0, "fanned out once"

    opened, assigned = (n.event_id for n in notices(services))
    zhang, chen, wang = (f"person-{oak[p]}" for p in ("zhang", "chen", "wang"))
    assert keys(services) == {
        f"{opened}:webhook:{every}",
        f"{opened}:mqtt:community",
        f"{opened}:email:{chen}",
        f"{opened}:email:{zhang}",
        f"{assigned}:webhook:{every}",
        f"{assigned}:webhook:{only_assigned}",
        f"{assigned}:mqtt:community",
        f"{assigned}:email:{wang}",
        f"{assigned}:mqtt:{wang}",
    }
    with services.sessions() as session:
        rows = {d.key: d for d in session.scalars(select(Delivery))}
        bodies = [n.body for n in session.scalars(select(Notice).order_by(Notice.id))]
    assert rows[f"{opened}:email:{chen}"].address == "chen@oak.example"
    assert rows[f"{assigned}:mqtt:community"].address == "linli/community/tests/notices/assigned"
    assert rows[f"{assigned}:mqtt:{wang}"].address == (
        "linli/community/tests/people/wang/notices/assigned"
    )
    assert all(d.attempts == 0 and d.next_attempt_at == clock.now for d in rows.values())
    assert bodies[1] is not None
    assert bodies[1]["ticket"]["id"] == ticket_id
    assert bodies[1]["ticket"]["assignee_name"] == "Wang"
    assert bodies[1]["community"]["slug"] == "tests"
    assert (bodies[1]["kind"], bodies[1]["actor_kind"]) == ("assigned", "rule")


def test_without_smtp_or_mqtt_only_webhooks_are_made(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    fault(services, FRIDAY_1630)
    community = community_of_notices(services)
    hook = add_webhook(services, community, [])
    Fanout(services.sessions, Routes(email=False, mqtt=False), clock).run()
    [opened] = notices(services)
    assert keys(services) == {f"{opened.event_id}:webhook:{hook}"}


def test_escalations_go_to_whom_their_evidence_names(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    """Missed by Monday 11:30: the breach goes to Wang and the supervisor Chen; at 15:30 the
    escalation to Zhang as well."""
    fault(services, FRIDAY_1630)
    services.rounds.run(services.sessions, FRIDAY_1630)
    monday = datetime(2025, 12, 1, 3, 30, tzinfo=FRIDAY_1630.tzinfo)  # 11:30 in Shanghai
    services.rounds.run(services.sessions, monday - timedelta(hours=1))
    services.rounds.run(services.sessions, monday)
    services.rounds.run(services.sessions, monday + timedelta(hours=4))
    Fanout(services.sessions, Routes(email=True, mqtt=False), clock).run()
    emailed: dict[str, set[int]] = {}
    with services.sessions() as session:
        for kind, person_id in session.execute(
            select(Notice.kind, Delivery.person_id)
            .join(Delivery, Delivery.notice_id == Notice.id)
            .where(Delivery.channel == "email")
        ):
            emailed.setdefault(kind, set()).add(person_id)
    assert emailed["sla_warning"] == {oak["wang"]}
    assert emailed["sla_breached"] == {oak["wang"], oak["chen"]}
    assert emailed["escalated"] == {oak["wang"], oak["chen"], oak["zhang"]}


def test_a_delivery_backs_off_and_is_dead_lettered_after_its_last_attempt(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    fault(services, FRIDAY_1630)
    Fanout(services.sessions, Routes(email=True, mqtt=False), clock).run()
    policy = RetryPolicy(first_s=10, max_s=25, max_attempts=4, lease_s=60)
    deliveries = Deliveries(services.sessions, policy, clock)
    first = {o.key: o for o in deliveries.take()}
    assert len(first) == 2 and {o.attempt for o in first.values()} == {1}
    assert deliveries.take() == [], "taken: leased to this notifier"
    one, other = sorted(first.values(), key=lambda o: o.key)
    assert deliveries.settle(other, None) is Outcome.SENT

    waits = []
    outgoing = one
    for attempt in range(1, 5):
        assert outgoing.attempt == attempt
        outcome = deliveries.settle(outgoing, f"refused, try {attempt}")
        if attempt == 4:
            assert outcome is Outcome.DEAD
            break
        assert outcome is Outcome.FAILED
        with services.sessions() as session:
            row = session.get(Delivery, outgoing.id)
            assert row is not None
            waits.append((row.next_attempt_at - clock.now).total_seconds())
        clock.advance(waits[-1] - 1)
        assert deliveries.take() == [], "not before its time"
        clock.advance(1)
        [outgoing] = deliveries.take()
        assert outgoing.key == one.key
    assert waits == [10, 20, 25]
    with services.sessions() as session:
        dead = session.get(Delivery, one.id)
        sent = session.get(Delivery, other.id)
        assert dead is not None and sent is not None
        assert (dead.dead_at, dead.attempts, dead.last_error) == (clock.now, 4, "refused, try 4")
        assert sent.delivered_at is not None and sent.attempts == 1
    clock.advance(3600)
    assert deliveries.take() == [], "neither the dead nor the delivered come again"


def test_a_delivery_whose_notifier_died_is_taken_again_when_its_lease_ends(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    fault(services, FRIDAY_1630)
    Fanout(services.sessions, Routes(email=True, mqtt=False), clock).run()
    policy = RetryPolicy(first_s=10, max_s=25, max_attempts=4, lease_s=60)
    deliveries = Deliveries(services.sessions, policy, clock)
    lost = deliveries.take()  # its notifier dies with them: never settled
    assert len(lost) == 2
    clock.advance(59)
    assert deliveries.take() == []
    clock.advance(1)
    again = deliveries.take()
    assert sorted((o.key, o.attempt) for o in again) == sorted((o.key, 2) for o in lost)
    # the late notifier's failure does not undo the new attempt's lease
    assert deliveries.settle(lost[0], "it was slow") is Outcome.FAILED
    with services.sessions() as session:
        row = session.get(Delivery, lost[0].id)
        assert row is not None and row.last_error == "" and row.attempts == 2


def test_what_was_settled_long_ago_is_forgotten_and_nothing_else(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    """Deliveries sent or dead-lettered before the cut go, then the notices left with none;
    one still being tried keeps its notice, the newest notice stays, the events stay."""
    fault(services, FRIDAY_1630)  # the ticket opens and is assigned: two notices
    services.rounds.run(services.sessions, FRIDAY_1630)
    Fanout(services.sessions, ALL, clock).run()
    deliveries = Deliveries(services.sessions, RetryPolicy(max_attempts=1), clock)
    by_event: dict[str, list[Outgoing]] = {}
    for outgoing in deliveries.take():
        by_event.setdefault(outgoing.key.split(":")[0], []).append(outgoing)
    first, newest = (by_event[e] for e in sorted(by_event, key=int))
    assert len(first) >= 2 and len(newest) >= 2
    # the first notice's are settled, one sent and the rest dead; the newest's one is sent
    # and the rest are still being tried
    deliveries.settle_all([(first[0], None), *((o, "gone for good") for o in first[1:])])
    deliveries.settle_all([(newest[0], None)])
    old_notice, new_notice = (n.id for n in notices(services))
    with services.sessions() as session:
        events_before = len(session.scalars(select(TicketEvent.id)).all())

    assert deliveries.prune(FRIDAY_1630) == (0, 0), "nothing was settled before the cut"
    clock.advance(3600)
    assert deliveries.prune(clock.now) == (len(first) + 1, 1)

    assert keys(services) == {o.key for o in newest[1:]}, "those still being tried stay"
    assert [n.id for n in notices(services)] == [new_notice]
    with services.sessions() as session:
        assert len(session.scalars(select(TicketEvent.id)).all()) == events_before
    # once the newest's are settled too, it stays all the same: the live stream counts on it
    deliveries.settle_all([(o, None) for o in newest[1:]])
    clock.advance(3600)
    assert deliveries.prune(clock.now) == (len(newest) - 1, 0)
    assert [n.id for n in notices(services)] == [new_notice] and old_notice < new_notice


async def test_the_notifier_forgets_what_it_keeps_no_longer_once_an_hour(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    fault(services, FRIDAY_1630)
    community = community_of_notices(services)
    add_webhook(services, community, [])  # nothing listens there: it dies at once
    notifier = notifier_of(services, clock, notify_keep_days=1, notify_max_attempts=1)
    try:
        first = await notifier.run_once()
        assert first.dead == 1 and first.pruned == (0, 0)
        clock.advance(86400 + 1)
        later = await notifier.run_once()
        assert later.pruned == (1, 0), "the only notice is the newest: it stays"
        assert keys(services) == set()
        fault(services, clock.now, "normal", seq=2)  # cleared: no notice, nothing to forget
        clock.advance(60)
        assert (await notifier.run_once()).pruned == (0, 0)
    finally:
        await notifier.close()
