"""MQTT push against a real Mosquitto: every event of the community on its topic, those
that concern Wang (who chose MQTT) on his, QoS 1, with the idempotency key in the payload;
while the broker is away the deliveries wait, and go out once it is back."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from cloud.services import Services
from linli.mosquitto import Mosquitto
from plumbing.mqtt import Client
from tests.cloud.helpers import eventually
from tests.cloud.notify.conftest import Clock, notifier_of
from tests.cloud.repair.community import FRIDAY_1630, fault


@contextlib.asynccontextmanager
async def subscribed(broker: Mosquitto, topic_filter: str) -> AsyncIterator[list[tuple[str, Any]]]:
    """Messages on ``topic_filter`` as they come: (topic, JSON payload)."""
    got: list[tuple[str, Any]] = []
    async with Client(broker.host, broker.port, client_id="message-board") as client:
        await client.subscribe([topic_filter], qos=1)

        async def collect() -> None:
            async for message in client.messages():
                got.append((message.topic, json.loads(message.payload)))

        task = asyncio.create_task(collect())
        try:
            yield got
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_events_are_pushed_on_the_communitys_and_the_persons_topics(
    services: Services, oak: dict[str, int], clock: Clock, broker: Mosquitto
) -> None:
    ticket_id = fault(services, FRIDAY_1630)
    services.rounds.run(services.sessions, FRIDAY_1630)
    notifier = notifier_of(services, clock, notify_mqtt=True, mqtt_port=broker.port)
    try:
        async with subscribed(broker, "linli/community/tests/#") as got:
            result = await notifier.run_once()
            assert (result.sent, result.failed) == (3, 0)
            await eventually(lambda: len(got) >= 3, 5, "three messages")
            await asyncio.sleep(0.2)
    finally:
        await notifier.close()
    topics = sorted(topic for topic, _ in got)
    assert topics == [
        "linli/community/tests/notices/assigned",
        "linli/community/tests/notices/opened",
        "linli/community/tests/people/wang/notices/assigned",
    ]
    keys = {payload["delivery"] for _, payload in got}
    assert len(keys) == 3
    assert {payload["ticket"]["id"] for _, payload in got} == {ticket_id}
    assert all(key.split(":")[1] == "mqtt" for key in keys)


async def test_while_the_broker_is_away_pushes_wait_and_go_out_when_it_is_back(
    services: Services, oak: dict[str, int], clock: Clock, broker: Mosquitto
) -> None:
    fault(services, FRIDAY_1630)
    notifier = notifier_of(
        services, clock, notify_mqtt=True, mqtt_port=broker.port, notify_timeout_s=2.0
    )
    try:
        assert (await notifier.run_once()).sent == 1
        broker.halt()
        services.rounds.run(services.sessions, FRIDAY_1630)  # assigned: two more
        assert (await notifier.run_once()).failed == 2
        broker.resume()
        async with subscribed(broker, "linli/community/tests/#") as got:
            clock.advance(10)
            assert (await notifier.run_once()).sent == 2
            await eventually(lambda: len(got) >= 2, 5, "both, once the broker is back")
    finally:
        await notifier.close()
    assert sorted(topic for topic, _ in got) == [
        "linli/community/tests/notices/assigned",
        "linli/community/tests/people/wang/notices/assigned",
    ]
