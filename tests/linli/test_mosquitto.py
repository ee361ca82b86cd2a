"""The brokers Linli starts keep sessions and queued messages across a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from linli.mosquitto import Mosquitto
from plumbing.mqtt import Client
from tests.conftest import require_mosquitto


def keeper(broker: Mosquitto) -> Client:
    return Client(
        broker.host,
        broker.port,
        client_id="keeper",
        clean_start=False,
        session_expiry_s=600,
        manual_ack=True,
    )


async def test_queued_messages_of_a_kept_session_survive_a_broker_restart(
    tmp_path: Path,
) -> None:
    require_mosquitto()
    with Mosquitto(name="restarting", log_dir=tmp_path) as broker:
        async with keeper(broker) as client:
            await client.subscribe(["t/#"])
        async with Client(broker.host, broker.port, client_id="device") as device:
            await device.publish("t/0", b"kept at QoS 0", qos=0)
            # acknowledged after the QoS 0 one was taken (a connection's packets go in order):
            # both are queued before the restart begins
            await device.publish("t/1", b"kept at QoS 1", qos=1)
        port = broker.port
        broker.restart()
        assert broker.port == port
        async with keeper(broker) as client:
            assert client.session_present
            received = []
            async with asyncio.timeout(10):
                async for message in client.messages():
                    received.append(message.payload)
                    client.ack(message)
                    if len(received) == 2:
                        break
    assert sorted(received) == [b"kept at QoS 0", b"kept at QoS 1"]
