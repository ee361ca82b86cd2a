"""What the delivery fault tests share: a fleet of gates with known readings, a device-side
publisher that keeps going through broker restarts, the cloud and edge agent as processes
that can be killed, and a look into the cloud's database."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from device_profiles.protocol import reading_id
from linli.mosquitto import Mosquitto
from linli.ports import free_port
from linli.processes import Child, ProcessGroup, linli_command
from plumbing.mqtt import Client, MqttError
from tests.e2e.harness import provision

GATEWAY = "delivery-gw"
T0 = 1_764_201_600
DRAIN_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Reading:
    topic: str
    payload: bytes
    alarm: bool

    @property
    def id(self) -> str:
        return reading_id(GATEWAY, self.topic, self.payload)


def fleet(count: int, *, devices: int = 100, jams: int = 0) -> list[Reading]:
    """``count`` readings of acme gates, round robin over ``devices``; every reading is news
    (its cycle count grows). ``jams`` devices report a jammed motor once, halfway through,
    and clear it with the next reading: two alarms each."""
    per_device = [0] * devices
    jam_at = {d: count // devices // 2 for d in range(jams)}
    readings = []
    for n in range(count):
        device = n % devices
        k = per_device[device]
        per_device[device] += 1
        jammed = jam_at.get(device) == k
        cleared = jam_at.get(device) == k - 1
        body = {"ts": T0 + k, "door": 0, "cycles": k, "motor_ma": 1200, "err": 11 if jammed else 0}
        topic = f"acme/gate/gate-{device:03d}/state"
        readings.append(Reading(topic, json.dumps(body).encode(), jammed or cleared))
    return readings


_ids = itertools.count()


async def publish(broker: Mosquitto, readings: Sequence[Reading], *, rate: float) -> None:
    """Publish ``readings`` at QoS 1, ``rate`` a second, as devices would; through a broker
    restart, reconnect and publish again what was not acknowledged."""
    started = time.monotonic()
    sent = 0
    while sent < len(readings):
        try:
            async with Client(broker.host, broker.port, client_id=f"fleet-{next(_ids)}") as client:
                while sent < len(readings):
                    due = started + sent / rate - time.monotonic()
                    if due > 0:
                        await asyncio.sleep(due)
                    reading = readings[sent]
                    await client.publish(reading.topic, reading.payload, qos=1)
                    sent += 1
        except MqttError:
            await asyncio.sleep(0.2)


@dataclass
class Stack:
    """The cloud and the edge agent as processes against the two brokers."""

    workdir: Path
    gateway: Mosquitto
    cloud_broker: Mosquitto
    processes: ProcessGroup
    http_port: int = field(default_factory=free_port)
    incarnations: dict[str, int] = field(default_factory=dict)
    current: dict[str, Child] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.workdir / "cloud" / "linli.db"

    def start(self, part: str) -> Child:
        number = self.incarnations.get(part, 0) + 1
        self.incarnations[part] = number
        if part == "cloud":
            argv = linli_command(
                "cloud", "run", "--port", str(self.http_port),
                "--mqtt-port", str(self.cloud_broker.port),
                "--data-dir", str(self.workdir / "cloud"),
            )  # fmt: skip
        else:
            argv = linli_command(
                "edge", "run", "--gateway-id", GATEWAY,
                "--local-port", str(self.gateway.port),
                "--cloud-port", str(self.cloud_broker.port),
                "--data-dir", str(self.workdir / "edge"),
            )  # fmt: skip
        child = self.processes.start(f"{part}-{number}", argv)
        self.current[part] = child
        return child

    def kill(self, part: str) -> None:
        """``kill -9`` of the part's process group, and wait until it is gone."""
        child = self.current.pop(part)
        child.signal_group(signal.SIGKILL)
        child.process.wait()

    def wait_cloud_ingesting(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            try:
                health = httpx.get(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1)
                if health.status_code == 200 and health.json().get("ingest_connected"):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("the cloud did not start ingesting")

    def wait_edge_subscribed(self, timeout: float = 30) -> None:
        """Until the edge agent has subscribed on the gateway broker: from then on the
        broker keeps what devices publish for it, whether it runs or not."""
        log_path = self.current["edge"].log_path
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.alive()
            if "local broker" in log_path.read_text() and "subscribed to" in log_path.read_text():
                return
            time.sleep(0.1)
        raise AssertionError(f"the edge agent did not subscribe: {log_path.read_text()[-2000:]}")

    def alive(self) -> None:
        for part, child in self.current.items():
            status = child.exit_status()
            assert status is None, f"{part} exited ({status}): {child.log_path.read_text()[-3000:]}"


KEEP_OLD_READINGS = {
    f"LINLI_CLOUD_{kind}_RETENTION_DAYS": "36500"
    for kind in ("RAW", "MINUTE_ROLLUP", "HOUR_ROLLUP")
}
"""The fleet's readings are stamped in 2025, and the tests read them back: the cloud would
forget them after its raw retention (30 days) at its first upkeep."""


@contextmanager
def stack(
    workdir: Path, gateway: Mosquitto, cloud_broker: Mosquitto, **env: str
) -> Iterator[Stack]:
    """Cloud and edge agent started (the cloud ingesting); ``env``: settings for both."""
    environment = {**os.environ, "LINLI_EDGE_ACK_TIMEOUT_S": "3", **KEEP_OLD_READINGS, **env}
    with ProcessGroup(workdir / "logs", env=environment) as processes:
        parts = Stack(workdir, gateway, cloud_broker, processes)
        provision(workdir, [GATEWAY], data_dir=workdir / "cloud")
        parts.start("cloud")
        parts.wait_cloud_ingesting()
        parts.start("edge")
        parts.wait_edge_subscribed()
        yield parts


def stored(database: Path) -> tuple[set[str], int, int]:
    """The reading ids in the cloud's database, its number of rows, and the number of
    (device, time) pairs stored more than once."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        ids = {row[0] for row in db.execute("SELECT id FROM readings")}
        (rows,) = db.execute("SELECT COUNT(*) FROM readings").fetchone()
        (twice,) = db.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM readings GROUP BY device_pk, ts "
            "HAVING COUNT(*) > 1)"
        ).fetchone()
    return ids, int(rows), int(twice)


def wait_all_stored(parts: Stack, readings: Sequence[Reading]) -> None:
    """Until every reading is in the cloud's database (AssertionError, with what is missing,
    after DRAIN_TIMEOUT_S); then no reading may be there twice."""
    wanted = {r.id for r in readings}
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    missing = wanted
    while time.monotonic() < deadline:
        parts.alive()
        if parts.database.exists():
            try:
                ids, _, _ = stored(parts.database)
            except sqlite3.OperationalError:  # locked or not yet created
                ids = set()
            missing = wanted - ids
            if not missing:
                break
        time.sleep(0.5)
    assert not missing, f"{len(missing)} of {len(wanted)} readings never reached the database"
    ids, rows, twice = stored(parts.database)
    assert rows == len(wanted), f"{rows} rows for {len(wanted)} readings"
    assert twice == 0, f"{twice} readings stored more than once"


def dead_letters(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()
    return int(count)
