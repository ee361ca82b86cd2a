"""Helpers for simulator tests: a subscriber that queues messages, a running simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from device_profiles.catalogue import Catalogue
from device_profiles.decode import Decoded, DecodeError
from linli.mosquitto import Mosquitto
from simulators.simulator import Connect, Simulator
from simulators.transport import SharedConnection

TIMEOUT_S = 10.0


async def eventually(condition: Callable[[], bool], within: float = TIMEOUT_S) -> None:
    """Wait until ``condition()`` holds, checking every 20 ms; TimeoutError after ``within``."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)


def broker_log(broker: Mosquitto, log_dir: Path) -> str:
    """What the broker (started with ``log_dir``) has logged so far."""
    path = log_dir / f"mosquitto-{broker.name}.log"
    return path.read_text() if path.exists() else ""


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return Catalogue.load()


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    at: float

    def decoded(self, catalogue: Catalogue) -> Decoded:
        return catalogue.decode(self.topic, self.payload, datetime.now(UTC))

    def decodes(self, catalogue: Catalogue) -> bool:
        try:
            self.decoded(catalogue)
        except DecodeError:
            return False
        return True


class Inbox:
    """Messages a test client received, in order, for awaiting with a predicate."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self._queue: asyncio.Queue[Received] = asyncio.Queue()

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        async for message in self.client.messages:
            payload = message.payload
            data = payload if isinstance(payload, bytes) else str(payload).encode()
            await self._queue.put(Received(str(message.topic), data, loop.time()))

    async def next(
        self, predicate: Callable[[Received], bool] = lambda _: True, within: float = TIMEOUT_S
    ) -> Received:
        """The next message that satisfies ``predicate``; TimeoutError after ``within`` s."""

        async def find() -> Received:
            while True:
                message = await self._queue.get()
                if predicate(message):
                    return message

        return await asyncio.wait_for(find(), within)

    async def publish(self, topic: str, payload: bytes) -> None:
        await self.client.publish(topic, payload, qos=1)


@asynccontextmanager
async def subscribed(broker: Mosquitto, filters: Sequence[str]) -> AsyncIterator[Inbox]:
    """A client subscribed to ``filters`` (subscriptions confirmed before this yields)."""
    async with aiomqtt.Client(broker.host, broker.port, identifier=None) as client:
        for topic_filter in filters:
            await client.subscribe(topic_filter, qos=1)
        inbox = Inbox(client)
        pump = asyncio.create_task(inbox._pump())
        try:
            yield inbox
        finally:
            pump.cancel()
            with suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await pump


@asynccontextmanager
async def running(simulator: Simulator, host: str, port: int) -> AsyncIterator[asyncio.Task[None]]:
    """``simulator`` running against the broker, connected before this yields."""
    async with running_with(simulator, lambda: SharedConnection(host, port)) as task:
        yield task


@asynccontextmanager
async def running_with(simulator: Simulator, connect: Connect) -> AsyncIterator[asyncio.Task[None]]:
    """``simulator`` running over the transports ``connect`` makes, connected before this
    yields."""
    stop = asyncio.Event()
    task = asyncio.create_task(simulator.run(connect, stop))
    try:
        await asyncio.wait_for(simulator.connected.wait(), TIMEOUT_S)
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT_S)
