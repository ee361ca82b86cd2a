"""Nothing lost between a device and the database, nothing stored twice: the edge agent and
the cloud killed with SIGKILL mid-stream, the cloud broker down while readings arrive, the
cloud's database locked, the gateway broker restarted. Real brokers; the cloud and the agent
are separate processes. A lost reading is one that never reaches the cloud's database."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from pathlib import Path

import pytest

from linli.mosquitto import Mosquitto
from tests.e2e.delivery import (
    dead_letters,
    fleet,
    publish,
    stack,
    stored,
    wait_all_stored,
)

pytestmark = pytest.mark.e2e
log = logging.getLogger(__name__)


def _moments(count: int, seconds: float, seed: int) -> list[float]:
    """``count`` random moments within ``seconds``, at least a second apart, logged so a
    failure can be replayed."""
    rng = random.Random(seed)
    log.info("kill moments from seed %d", seed)
    moments: list[float] = []
    while len(moments) < count:
        moment = rng.uniform(0.5, seconds)
        if all(abs(moment - other) >= 1.0 for other in moments):
            moments.append(moment)
    return sorted(moments)


def test_the_edge_agent_killed_10_times_loses_and_repeats_nothing(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto
) -> None:
    readings = fleet(20_000, jams=10)
    rate = 800.0
    moments = _moments(10, len(readings) / rate, seed=int(time.time()))
    with stack(tmp_path, gateway_broker, cloud_broker) as parts:

        async def scenario() -> None:
            stream = asyncio.create_task(publish(gateway_broker, readings, rate=rate))
            started = time.monotonic()
            for moment in moments:
                await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
                parts.kill("edge")
                parts.start("edge")
            await stream

        asyncio.run(scenario())
        wait_all_stored(parts, readings)
    assert parts.incarnations["edge"] == 11


def test_the_cloud_killed_5_times_loses_and_repeats_nothing(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto
) -> None:
    readings = fleet(10_000, jams=10)
    rate = 500.0
    moments = _moments(5, len(readings) / rate, seed=int(time.time()))
    with stack(tmp_path, gateway_broker, cloud_broker) as parts:

        async def scenario() -> None:
            stream = asyncio.create_task(publish(gateway_broker, readings, rate=rate))
            started = time.monotonic()
            for moment in moments:
                await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
                parts.kill("cloud")
                parts.start("cloud")
            await stream

        asyncio.run(scenario())
        wait_all_stored(parts, readings)
    assert parts.incarnations["cloud"] == 6


def test_readings_that_arrive_while_the_cloud_broker_is_down_all_follow_alarms_first(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto
) -> None:
    readings = fleet(10_000, jams=20)
    with stack(tmp_path, gateway_broker, cloud_broker) as parts:
        cloud_broker.halt()
        asyncio.run(publish(gateway_broker, readings, rate=2_000))
        outbox = tmp_path / "edge" / "outbox.db"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every reading on the gateway's disk first
            with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=10) as db:
                (waiting,) = db.execute("SELECT COUNT(*) FROM items").fetchone()
            if waiting == len(readings):
                break
            time.sleep(0.2)
        assert waiting == len(readings)
        cloud_broker.resume()
        wait_all_stored(parts, readings)
        with sqlite3.connect(f"file:{parts.database}?mode=ro", uri=True) as db:
            order = {row[0]: row[1] for row in db.execute("SELECT id, rowid FROM readings")}
    alarms = [order[r.id] for r in readings if r.alarm]
    jammed_devices = {r.topic for r in readings if r.alarm}
    others = [order[r.id] for r in readings if r.topic not in jammed_devices]
    assert len(alarms) == 40
    assert max(alarms) < min(others), "an alarm was stored after waiting telemetry"


def test_a_database_locked_for_30_s_loses_nothing_and_dead_letters_nothing(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto
) -> None:
    readings = fleet(6_000, jams=10)
    with stack(tmp_path, gateway_broker, cloud_broker) as parts:

        async def scenario() -> None:
            stream = asyncio.create_task(publish(gateway_broker, readings, rate=400))
            await asyncio.sleep(3)
            locker = sqlite3.connect(parts.database, isolation_level=None, timeout=30)
            locker.execute("BEGIN EXCLUSIVE")
            try:
                await asyncio.sleep(30)
                parts.alive()
            finally:
                locker.execute("COMMIT")
                locker.close()
            await stream

        asyncio.run(scenario())
        wait_all_stored(parts, readings)
        assert dead_letters(parts.database) == 0


def test_the_gateway_broker_restarted_mid_stream_loses_nothing(
    tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto
) -> None:
    readings = fleet(6_000, jams=10)
    with stack(tmp_path, gateway_broker, cloud_broker) as parts:

        async def scenario() -> None:
            stream = asyncio.create_task(publish(gateway_broker, readings, rate=600))
            await asyncio.sleep(4)
            await asyncio.to_thread(gateway_broker.restart)
            await stream

        asyncio.run(scenario())
        wait_all_stored(parts, readings)
        _, rows, _ = stored(parts.database)
    assert rows == len(readings)
