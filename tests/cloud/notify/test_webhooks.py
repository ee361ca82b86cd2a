"""Webhooks against a real HTTP receiver the test starts: each event arrives signed with the
webhook's secret, with its idempotency key; a receiver that fails gets the same delivery
again — same key — after the backoff, until it takes it or the delivery is dead-lettered."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import generate_latest
from sqlalchemy import select

from cloud.db.notices import Delivery, Notice, Webhook
from cloud.notify.webhooks import new_secret
from cloud.repair.lifecycle import Actor, Move
from cloud.repair.tickets import By
from cloud.services import Services
from tests.cloud.notify.conftest import Clock, notifier_of
from tests.cloud.notify.receivers import WebhookReceiver
from tests.cloud.repair.community import FRIDAY_1630, fault


def subscribe(services: Services, url: str, secret: str, kinds: list[str] | None = None) -> int:
    with services.sessions() as session:
        community = session.scalars(select(Notice.community_id)).first()
    with services.sessions.begin() as session:
        assert community is not None
        hook = Webhook(
            community_id=community,
            name="message board",
            url=url,
            secret=secret,
            kinds=kinds or [],
            created_by="test",
            created_at=FRIDAY_1630,
        )
        session.add(hook)
        session.flush()
        return hook.id


def metric(services: Services, name: str, channel: str) -> float:
    value = services.metrics.registry.get_sample_value(name, {"channel": channel})
    return value or 0.0


async def test_events_arrive_signed_once_each_with_their_keys(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    receiver = WebhookReceiver(secret=new_secret())
    ticket_id = fault(services, FRIDAY_1630)
    with receiver.serving() as url:
        hook = subscribe(services, url, receiver.secret)
        services.rounds.run(services.sessions, FRIDAY_1630)
        notifier = notifier_of(services, clock)
        try:
            first = await notifier.run_once()
            assert (first.fanned_out, first.sent, first.failed) == (2, 2, 0)
            with services.sessions.begin() as session:
                wang = By(Actor.MAINTAINER, "wang", "person", oak["wang"])
                services.tickets.move(session, ticket_id, Move.ACKNOWLEDGE, wang, at=clock.now)
            second = await notifier.run_once()
            assert (second.fanned_out, second.sent) == (1, 1)
            assert (await notifier.run_once()).sent == 0, "nothing twice"
        finally:
            await notifier.close()

    with services.sessions() as session:
        events = [n.event_id for n in session.scalars(select(Notice).order_by(Notice.id))]
    # (the deliveries of one round go out at once: in any order)
    assert sorted(h.key for h in receiver.hooks) == sorted(f"{e}:webhook:{hook}" for e in events)
    assert {h.kind for h in receiver.hooks[:2]} == {"opened", "assigned"}
    assert receiver.hooks[2].kind == "acknowledged"
    assert all(h.signed for h in receiver.hooks), "every request signed with the secret"
    [assigned] = [h.body for h in receiver.hooks if h.kind == "assigned"]
    assert assigned["delivery"].endswith(f":webhook:{hook}")
    assert assigned["ticket"]["id"] == ticket_id
    assert (assigned["ticket"]["assignee_id"], assigned["ticket"]["state"]) == (
        oak["wang"],
        "assigned",
    )
    assert receiver.hooks[2].body["actor"] == "wang"
    assert metric(services, "linli_notifications_sent_total", "webhook") == 3


async def test_a_failing_receiver_gets_the_same_delivery_again_after_the_backoff(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    """The receiver answers 503 twice, then takes it: three copies of one key, 10 s and
    20 s apart; the receiver keeps it once."""
    receiver = WebhookReceiver(
        secret=new_secret(), answer=lambda key, copy: 503 if copy <= 2 else 204
    )
    fault(services, FRIDAY_1630)
    with receiver.serving() as url:
        subscribe(services, url, receiver.secret)
        notifier = notifier_of(services, clock, notify_retry_first_s=10.0)
        try:
            assert (await notifier.run_once()).failed == 1
            clock.advance(9)
            assert (await notifier.run_once()).failed == 0, "not before its time"
            clock.advance(1)
            assert (await notifier.run_once()).failed == 1
            clock.advance(20)
            assert (await notifier.run_once()).sent == 1
        finally:
            await notifier.close()
    [(key, copies)] = receiver.by_key.items()
    assert len(copies) == 3 and len({c.body["delivery"] for c in copies}) == 1
    assert all(c.signed for c in copies)
    with services.sessions() as session:
        [delivery] = session.scalars(select(Delivery)).all()
    assert (delivery.key, delivery.attempts, delivery.last_error) == (key, 3, "")
    assert delivery.delivered_at == clock.now
    assert metric(services, "linli_notifications_failed_total", "webhook") == 2
    assert metric(services, "linli_notifications_sent_total", "webhook") == 1
    assert b'linli_notifications_failed_total{channel="webhook"} 2.0' in generate_latest(
        services.metrics.registry
    )


async def test_a_receiver_that_never_answers_well_is_dead_lettered(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    receiver = WebhookReceiver(secret=new_secret(), answer=lambda key, copy: 500)
    fault(services, FRIDAY_1630)
    with receiver.serving() as url:
        subscribe(services, url, receiver.secret)
        notifier = notifier_of(services, clock, notify_max_attempts=3, notify_retry_first_s=5.0)
        try:
            for _ in range(3):
                await notifier.run_once()
                clock.advance(3600)
            assert (await notifier.run_once()).sent == 0
        finally:
            await notifier.close()
    assert [len(c) for c in receiver.by_key.values()] == [3]
    with services.sessions() as session:
        [delivery] = session.scalars(select(Delivery)).all()
    assert delivery.dead_at is not None and delivery.attempts == 3
    assert "HTTP 500" in delivery.last_error
    assert metric(services, "linli_notifications_dead_lettered_total", "webhook") == 1


async def test_an_unreachable_receiver_fails_and_an_archived_webhook_gets_nothing(
    services: Services, oak: dict[str, int], clock: Clock
) -> None:
    fault(services, FRIDAY_1630)
    hook = subscribe(services, "http://127.0.0.1:9/closed", new_secret())
    notifier = notifier_of(services, clock)
    try:
        assert (await notifier.run_once()).failed == 1
        with services.sessions() as session:
            [delivery] = session.scalars(select(Delivery)).all()
        assert delivery.last_error.startswith("ConnectError")
        with services.sessions.begin() as session:
            found = session.get(Webhook, hook)
            assert found is not None
            found.archived_at = clock.now
        clock.advance(timedelta(hours=2).total_seconds())
        assert (await notifier.run_once()).failed == 0
    finally:
        await notifier.close()
    with services.sessions() as session:
        [delivery] = session.scalars(select(Delivery)).all()
    assert delivery.dead_at is not None and delivery.last_error == f"webhook {hook} was archived"
