"""Test helpers for the edge agent: devices publishing, a watcher standing in for the cloud."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from device_profiles import Catalogue
from device_profiles.catalogue import builtin_dir
from device_profiles.protocol import Batch, BatchAck, GatewayStatus, ack_topic, parse_up_topic
from device_profiles.schema import Example
from edge_agent.agent import EdgeAgent
from edge_agent.config import EdgeSettings
from plumbing.mqtt import Client, MqttError

TIMEOUT_S = 10.0


SITE_PROFILE_ID = "newco_turnstile"


def site_profile(version: str = "1.0.0", *, scale: float = 0.001) -> str:
    """A site profile: the built-in acme gate as another vendor's turnstile.

    Id ``newco_turnstile``, type ``turnstile``, topics ``newco/gate/{device_id}/state``; the
    motor current is ``motor_ma * scale`` (the examples follow).
    """
    text = (builtin_dir() / "acme_access_gate.yaml").read_text()
    edits = [
        (r"(?m)^id: acme_access_gate$", f"id: {SITE_PROFILE_ID}"),
        (r"(?m)^type: access_gate$", "type: turnstile"),
        (r"(?m)^version: .*$", f"version: {version}"),
        (r"acme/gate/", "newco/gate/"),
        (r"scale: 0\.001\b", f"scale: {scale}"),
    ]
    for pattern, replacement in edits:
        text, count = re.subn(pattern, replacement, text)
        assert count, f"the built-in acme gate profile no longer has {pattern!r}"
    factor = scale / 0.001
    return re.sub(
        r"motor_current: ([0-9.]+)",
        lambda m: f"motor_current: {round(float(m.group(1)) * factor, 6)}",
        text,
    )


def site_reading(device: str, motor_ma: int, cycles: int = 1) -> tuple[str, bytes]:
    """A normal reading from a device of :func:`site_profile`."""
    body = {"ts": 1764201600 + cycles, "door": 0, "cycles": cycles, "motor_ma": motor_ma, "err": 0}
    return f"newco/gate/{device}/state", json.dumps(body).encode()


def write_profile(path: Path, text: str) -> None:
    """Write a profile file as an operator should: elsewhere, then moved into place."""
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(text)
    staging.replace(path)


class Broker(Protocol):
    host: str
    port: int


def payload_of(example: Example) -> bytes:
    """An example's vendor payload as the device sends it."""
    if isinstance(example.payload, str):
        return example.payload.encode("utf-8")
    return json.dumps(example.payload).encode("utf-8")


def example(catalogue: Catalogue, profile_id: str, name: str) -> Example:
    return next(e for e in catalogue[profile_id].examples if e.name == name)


def agent_for(tmp_path: Path, catalogue: Catalogue, **settings: Any) -> EdgeAgent:
    """An agent that is not started: for its logic without brokers."""
    return EdgeAgent(EdgeSettings(gateway_id="gw-unit", data_dir=tmp_path, **settings), catalogue)


def dead_letters(agent: EdgeAgent) -> list[dict[str, Any]]:
    """The records of an agent's dead-letter log, once what it recorded is written."""
    agent.dead_letters.flush(TIMEOUT_S)
    lines = agent.dead_letters.path.read_text().splitlines()
    return [json.loads(line) for line in lines]


def settings_for(gateway: Broker, cloud: Broker, data_dir: Path, **overrides: Any) -> EdgeSettings:
    values: dict[str, Any] = {
        "gateway_id": "gw-test",
        "local_host": gateway.host,
        "local_port": gateway.port,
        "cloud_host": cloud.host,
        "cloud_port": cloud.port,
        "data_dir": data_dir,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.3,
        "shutdown_timeout_s": 5.0,
    }
    values.update(overrides)
    return EdgeSettings(**values)


async def publish(
    broker: Broker, messages: Iterable[tuple[str, bytes]], *, retain: bool = False
) -> None:
    """Publish in order over one connection, QoS 1, as a device would."""
    async with Client(broker.host, broker.port, client_id=f"device-{next(_CLIENTS)}") as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1, retain=retain)


_CLIENTS = itertools.count()


class Watcher:
    """What arrives at a broker on the subscribed filters, sorted by kind.

    It stands in for the cloud's ingest: while ``acking``, every batch is acknowledged on
    the gateway's ack topic as the cloud does once it stored it.
    """

    def __init__(self, client: Client, *, acking: bool) -> None:
        self.client = client
        self.acking = acking
        self.batches: asyncio.Queue[Batch] = asyncio.Queue()
        self.statuses: asyncio.Queue[tuple[GatewayStatus, bool]] = asyncio.Queue()
        self.other: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def accept(self, topic: str, payload: bytes, retain: bool) -> None:
        kind = parse_up_topic(topic)
        if kind is not None and kind[1] == "batch":
            batch = Batch.model_validate_json(payload)
            self.batches.put_nowait(batch)
            if self.acking:
                await self.ack(batch)
        elif kind is not None and kind[1] == "status":
            self.statuses.put_nowait((GatewayStatus.model_validate_json(payload), retain))
        else:
            self.other.put_nowait((topic, payload))

    async def ack(self, batch: Batch, result: str = "stored") -> None:
        """Acknowledge ``batch`` as the cloud does after its commit."""
        ack = BatchAck(gateway_id=batch.gateway_id, epoch=batch.epoch, seq=batch.seq, result=result)
        await self.client.publish(ack_topic(batch.gateway_id), ack.model_dump_json().encode())

    async def batch(self) -> Batch:
        return await asyncio.wait_for(self.batches.get(), TIMEOUT_S)

    async def status(self) -> tuple[GatewayStatus, bool]:
        return await asyncio.wait_for(self.statuses.get(), TIMEOUT_S)

    async def status_where(
        self, predicate: Callable[[GatewayStatus, bool], bool], *, seconds: float = TIMEOUT_S
    ) -> tuple[GatewayStatus, bool]:
        """The first status (skipping others) that satisfies ``predicate``."""

        async def find() -> tuple[GatewayStatus, bool]:
            while True:
                status, retained = await self.statuses.get()
                if predicate(status, retained):
                    return status, retained

        return await asyncio.wait_for(find(), seconds)

    async def message(self) -> tuple[str, bytes]:
        return await asyncio.wait_for(self.other.get(), TIMEOUT_S)

    async def items(self, count: int) -> list[Batch]:
        """Batches until they hold ``count`` items in all."""
        batches: list[Batch] = []
        while sum(len(b.items) for b in batches) < count:
            batches.append(await self.batch())
        return batches


@contextlib.asynccontextmanager
async def watch(broker: Broker, *filters: str, acking: bool = True) -> AsyncIterator[Watcher]:
    """Subscribe to ``filters`` (QoS 1) and collect what arrives, until the block ends."""
    async with Client(broker.host, broker.port, client_id=f"watcher-{next(_CLIENTS)}") as client:
        watcher = Watcher(client, acking=acking)
        await client.subscribe(list(filters))

        async def pump() -> None:
            async for message in client.messages():
                await watcher.accept(message.topic, message.payload, message.retain)

        task = asyncio.create_task(pump())
        try:
            yield watcher
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, MqttError):
                await task


async def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll a condition of the system under test until it holds (TIMEOUT_S at most)."""
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while not predicate():  # noqa: ASYNC110 - agent state, no event to await
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@contextlib.asynccontextmanager
async def running(settings: EdgeSettings, catalogue: Catalogue) -> AsyncIterator[EdgeAgent]:
    """An agent connected to both brokers; stopped gracefully when the block ends."""
    async with EdgeAgent(settings, catalogue) as agent:
        await asyncio.wait_for(agent.wait_ready(), TIMEOUT_S)
        yield agent
