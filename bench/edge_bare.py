"""The bare forwarder that ``bench/edge_forward.py`` measures the edge agent against.

The least a forwarder must do: subscribe to the gateway broker (a kept session, the
agent's Receive Maximum), decode each message with the same profile and the same compiled
decoder (:class:`device_profiles.decoder.Decoder`, what a topic says found once per topic,
as the agent does), make the same item (:func:`edge_agent.intake.make_item`), batch 500
(or what waited half a second), publish QoS 1 — no outbox, no rules, each message
acknowledged as it arrives (in one write per read). Prints
``ready`` once subscribed; SIGTERM stops it.

    python bench/edge_bare.py LOCAL_PORT CLOUD_PORT
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime

from device_profiles import Catalogue
from device_profiles.decoder import Decoder, TopicMatch
from device_profiles.protocol import batch_payload, batch_topic
from edge_agent.intake import make_item
from plumbing.mqtt import Client, Message

GATEWAY = "gw-bench"
CLIENT_ID = "bench-bare-local"
BATCH_ITEMS = 500
LINGER_S = 0.5
RECEIVE_MAXIMUM = 1000


async def bare_forwarder(local_port: int, cloud_port: int) -> None:
    """Subscribe, decode with the same profile, make the same items, batch, publish."""
    catalogue = Catalogue.load()
    decoders = {profile.id: Decoder(profile) for profile in catalogue}
    topics: dict[str, tuple[Decoder, TopicMatch]] = {}
    waiting: list[str] = []
    sent: set[asyncio.Task[None]] = set()
    seq = 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    async with Client("127.0.0.1", cloud_port, client_id="bench-bare-cloud") as cloud:

        def flush() -> None:
            nonlocal seq
            if not waiting:
                return
            payload = batch_payload(
                GATEWAY, "00000000", seq, datetime.now(UTC), waiting[:BATCH_ITEMS]
            )
            del waiting[:BATCH_ITEMS]
            seq += 1
            task = loop.create_task(cloud.publish(batch_topic(GATEWAY), payload, qos=1))
            sent.add(task)
            task.add_done_callback(sent.discard)

        def on_message(message: Message) -> None:
            received_at = datetime.now(UTC)
            known = topics.get(message.topic)
            if known is None:
                found = catalogue.profile_for_topic(message.topic)
                assert found is not None, message.topic
                decoder = decoders[found.id]
                known = topics[message.topic] = (decoder, decoder.route(message.topic))
            decoder, route = known
            ts, metrics, faults = decoder.read(route.spec, message.payload, received_at)
            decoded = decoder.decoded(route.device_id, ts, metrics, faults)
            item = make_item(decoded, received_at, alarm=False)
            waiting.append(item.model_dump_json())
            if len(waiting) >= BATCH_ITEMS:
                flush()

        async with Client(
            "127.0.0.1",
            local_port,
            client_id=CLIENT_ID,
            clean_start=False,
            session_expiry_s=3600,
            receive_maximum=RECEIVE_MAXIMUM,
            on_message=on_message,
        ) as local:
            await local.subscribe(catalogue.subscriptions())
            print("ready", flush=True)
            while not stop.is_set():
                await asyncio.sleep(LINGER_S)
                flush()
            if sent:
                await asyncio.gather(*sent, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(bare_forwarder(int(sys.argv[1]), int(sys.argv[2])))
