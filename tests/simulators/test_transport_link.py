"""Connection supervision against a real Mosquitto: a link keeps trying until the broker is
there, and a held link is cut without DISCONNECT (the broker publishes its will)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from linli.mosquitto import Mosquitto
from linli.ports import free_port
from plumbing.mqtt import Will
from simulators.transport.link import Link, connect_gate
from tests.conftest import require_mosquitto
from tests.simulators.conftest import TIMEOUT_S, subscribed


async def test_a_link_keeps_trying_until_the_broker_is_there(tmp_path: Path) -> None:
    require_mosquitto()
    port = free_port()
    link = Link("127.0.0.1", port, "patient", connect_gate(1), timeout_s=2)
    link.start()
    try:
        await asyncio.wait_for(link.attempted.wait(), TIMEOUT_S)
        assert not link.up.is_set()
        assert link.last_error is not None
        assert f"cannot connect to MQTT broker 127.0.0.1:{port}" in link.last_error
        with Mosquitto(port, name="late", log_dir=tmp_path):
            await asyncio.wait_for(link.up.wait(), TIMEOUT_S)
            assert link.connects == 1 and link.last_error is None
            await link.publish("test/hello", b"hi", 1)
    finally:
        await link.close()


async def test_a_held_link_drops_with_its_will_until_released(broker: Mosquitto) -> None:
    will = Will("test/will", b"gone", retain=False)
    link = Link(broker.host, broker.port, "device", connect_gate(1), will=will)
    async with subscribed(broker, [will.topic]) as inbox:
        link.start()
        try:
            await asyncio.wait_for(link.up.wait(), TIMEOUT_S)
            link.hold()
            assert (await inbox.next()).payload == b"gone"
            assert not link.up.is_set() and link.held
            link.release()
            await asyncio.wait_for(link.up.wait(), TIMEOUT_S)
            assert link.connects == 2
        finally:
            await link.close()
