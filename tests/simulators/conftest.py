"""Helpers for simulator tests: a subscriber that queues messages, a running simulator, the
``linli sim`` command, scenario files, and a clean ``LINLI_SIM_*`` environment."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from device_profiles.catalogue import Catalogue
from device_profiles.decode import Decoded, DecodeError
from linli.mosquitto import Mosquitto
from plumbing.mqtt import Client, Message
from simulators.cli import app
from simulators.scenario import Scenario, load_scenario
from simulators.simulator import Connect, Simulator, SimulatorConfig
from simulators.transport import SharedConnection

TIMEOUT_S = 10.0
FAST = SimulatorConfig(speed=600, min_interval_s=0.2)
"""Ten simulated minutes a real second; reports at most five a second per device."""

SimCli = Callable[..., Result]
"""``sim_cli(*args, env=None)``: ``linli sim ARGS`` run in-process, with ``env`` set."""


@pytest.fixture(autouse=True)
def _no_sim_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``LINLI_SIM_*`` variables of whoever runs the tests do not reach them."""
    for name in list(os.environ):
        if name.startswith("LINLI_SIM_"):
            monkeypatch.delenv(name)


@pytest.fixture
def sim_cli() -> SimCli:
    runner = CliRunner()

    def invoke(*args: str, env: Mapping[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), env=env)

    return invoke


@pytest.fixture
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test runs in its own temporary directory: a file it writes is named as given."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def parse_scenario(text: str, name: str = "test.yaml") -> Scenario:
    """The scenario in ``text`` (dedented), written to the file ``name`` and loaded from it
    (use with the ``in_tmp_path`` fixture)."""
    path = Path(name)
    path.write_text(textwrap.dedent(text))
    return load_scenario(path)


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

    def __init__(self, broker: Mosquitto) -> None:
        self.client = Client(
            broker.host,
            broker.port,
            client_id=f"test-inbox-{uuid.uuid4().hex[:8]}",
            on_message=self._take,
        )
        self._queue: asyncio.Queue[Received] = asyncio.Queue()

    def _take(self, message: Message) -> None:
        at = asyncio.get_running_loop().time()
        self._queue.put_nowait(Received(message.topic, message.payload, at))

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
    inbox = Inbox(broker)
    async with inbox.client as client:
        await client.subscribe(filters)
        yield inbox


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


@asynccontextmanager
async def sim_run_process(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m simulators run ARGS`` in a session of its own, its output (stderr too)
    piped; killed with its process group if it is still running at the end."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators",
        "run",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
