"""Connection supervision: one MQTT connection kept up, and a transport's connections together.

Each connection is a :class:`plumbing.mqtt.Client` speaking MQTT 3.1.1, as many real
devices do. A :class:`Link` is kept up by its own supervisor task: it connects (at most as
many links of one transport at a time as their shared gate lets through), subscribes,
serves until the connection is lost, and reconnects after a delay drawn by
:class:`plumbing.backoff.Backoff` (full jitter); a connection that stayed up
:data:`STABLE_AFTER_S` resets the backoff. :meth:`Link.hold` cuts the connection without
DISCONNECT (the broker publishes the will) and keeps it down until :meth:`Link.release`.
Supervisors are stopped by setting flags and events, never by cancelling a task that is
waiting inside the MQTT client.

:class:`Connections` is what the transports have in common: their links, started and
closed together as an async context manager, and the messages their subscriptions receive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from plumbing.backoff import Backoff
from plumbing.mqtt import Client, Message, MqttError, MqttVersion, Will
from plumbing.tasks import wait_event
from simulators.transport.open_files import ensure_open_files

log = logging.getLogger(__name__)

MQTT_VERSION: MqttVersion = "3.1.1"
"""What the simulated devices speak: MQTT 3.1.1, as many real devices do."""
KEEPALIVE_S = 60
"""Seconds between keepalive pings on an idle connection."""

CONNECT_TIMEOUT_S = 10.0
DEFAULT_CONNECT_CONCURRENCY = 50
"""Connections of one transport that may be connecting at the same time."""
FIRST_RECONNECT_S = 0.5
"""The ceiling of the first reconnect delay; it doubles with every failure in a row."""
RECONNECT_MAX_S = 10.0
"""The highest the ceiling of a reconnect delay grows."""
STABLE_AFTER_S = 10.0
"""A connection that stayed up this long resets its reconnect backoff."""
MAX_IN_FLIGHT_PER_CONNECTION = 1000
"""QoS 1/2 messages one connection may have unacknowledged before later ones wait in it."""

OnMessage = Callable[[str, bytes], None]
"""Handed (topic, payload) of every message a subscription receives."""


class TransportError(Exception):
    """The broker could not be reached, or the connection to it was lost."""


def unique_client_id(role: str) -> str:
    """A client id no other simulator process uses: ``linli-sim-<role>-<pid>-<random>``."""
    return f"linli-sim-{role}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def connect_gate(concurrency: int) -> asyncio.Semaphore:
    """What lets at most ``concurrency`` links of one transport connect at the same time."""
    if concurrency < 1:
        raise ValueError(f"connect concurrency must be at least 1, got {concurrency}")
    return asyncio.Semaphore(concurrency)


class Link:
    """One MQTT connection, kept up by a supervisor task until :meth:`close`.

    ``up`` is set while connected and subscribed. :meth:`hold` cuts the connection without
    DISCONNECT (so the broker publishes the will) and keeps it down until :meth:`release`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        gate: asyncio.Semaphore,
        *,
        will: Will | None = None,
        subscriptions: Sequence[str] = (),
        on_message: Callable[[Message], None] | None = None,
        on_change: Callable[[Link], None] | None = None,
        timeout_s: float = CONNECT_TIMEOUT_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
        quiet: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.up = asyncio.Event()
        self.attempted = asyncio.Event()
        """Set once the first connection attempt has succeeded or failed."""
        self.last_error: str | None = None
        self.connects = 0
        self._gate = gate
        self._will = will
        self._subscriptions = tuple(subscriptions)
        self._on_message = on_message
        self._on_change = on_change
        self._timeout_s = timeout_s
        self._backoff = Backoff(FIRST_RECONNECT_S, reconnect_max_s, rng=random.Random(client_id))
        self._log_level = logging.DEBUG if quiet else logging.WARNING
        self._client: Client | None = None
        self._closing = False
        self._held = False
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- control ----------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"mqtt {self.client_id}")

    async def close(self) -> None:
        """Disconnect cleanly (no will) and stop reconnecting."""
        self._closing = True
        self._changed.set()
        if self._task is not None:
            await self._task

    def hold(self) -> None:
        self._held = True
        self._changed.set()

    def release(self) -> None:
        self._held = False
        self._changed.set()

    @property
    def held(self) -> bool:
        return self._held

    # -- publishing -------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """Publish; waits up to the timeout for a connection that is being re-established."""
        client = self._client if self.up.is_set() else None
        if client is None:
            if self._held or self._closing:
                raise TransportError(f"{self.client_id} is offline")
            try:
                async with asyncio.timeout(self._timeout_s):
                    await self.up.wait()
            except TimeoutError:
                reason = f": {self.last_error}" if self.last_error else ""
                raise TransportError(f"{self.client_id} is not connected{reason}") from None
            client = self._client
            if client is None:
                raise TransportError(f"{self.client_id} is offline")
        try:
            await client.publish(topic, payload, qos=qos)
        except MqttError as exc:
            raise TransportError(f"{self.client_id}: {exc}") from exc

    # -- the supervisor ---------------------------------------------------------------

    async def _supervise(self) -> None:
        while not self._closing:
            if self._held:
                self._changed.clear()
                if self._held and not self._closing:
                    await self._changed.wait()
                continue
            lost = await self._session()
            if lost:
                await self._pause(lost)

    async def _session(self) -> str | None:
        """One connection, from connecting to its end; what to log before reconnecting
        (None: it was closed or held, or never attempted)."""
        loop = asyncio.get_running_loop()
        async with AsyncExitStack() as connection:
            client = await self._connect(connection)
            self.attempted.set()
            if client is None:
                return None if self._closing or self._held else self.last_error
            connected_at = loop.time()
            self._client = client
            self.connects += 1
            self._set_up(True)
            try:
                lost = await self._serve(client)
            finally:
                self._set_up(False)
                self._client = None
        # leaving the stack disconnected cleanly (no will), unless _serve aborted
        if loop.time() - connected_at >= STABLE_AFTER_S:
            self._backoff.reset()
        return None if lost is None else f"{self.client_id} lost: {lost}"

    async def _pause(self, problem: str | None) -> None:
        """Wait out the next reconnect delay; close, hold or release cut it short."""
        delay = self._backoff.next()
        log.log(self._log_level, "%s; reconnecting in %.1fs", problem, delay)
        self._changed.clear()
        await wait_event(self._changed, delay)

    def _set_up(self, up: bool) -> None:
        if up:
            self.up.set()
        else:
            self.up.clear()
        if self._on_change is not None:
            self._on_change(self)

    async def _connect(self, connection: AsyncExitStack) -> Client | None:
        """A client connected and subscribed, whose disconnection ``connection`` holds; None,
        with ``last_error`` set, if that failed (or close or hold came first)."""
        async with self._gate:
            if self._closing or self._held:
                return None
            client = Client(
                self.host,
                self.port,
                client_id=self.client_id,
                protocol=MQTT_VERSION,
                will=self._will,
                max_in_flight=MAX_IN_FLIGHT_PER_CONNECTION,
                on_message=self._on_message,
                keepalive_s=KEEPALIVE_S,
                timeout_s=self._timeout_s,
            )
            try:
                await connection.enter_async_context(client)
            except MqttError as exc:
                self.last_error = f"cannot connect to MQTT broker {exc}"
                return None
            try:
                await client.subscribe(self._subscriptions)
            except MqttError as exc:
                filters = ", ".join(self._subscriptions)
                self.last_error = f"cannot subscribe to {filters}: {exc}"
                return None
            self.last_error = None
            log.debug("connected to %s as %s", client.name, self.client_id)
            return client

    async def _serve(self, client: Client) -> str | None:
        """Until the connection is lost (the reason) or close/hold asks (None); a hold
        aborts the connection, a close leaves disconnecting to the caller."""

        def wake(_: object) -> None:
            if self._client is client:  # not once this connection is over
                self._changed.set()

        lost = client.wait_lost()
        lost.add_done_callback(wake)
        while True:
            self._changed.clear()
            if lost.done():
                return lost.result()
            if self._closing or self._held:
                break
            await self._changed.wait()
        if self._held:
            client.abort()
            log.info("%s dropped without DISCONNECT", self.client_id)
        return None


class Connections:
    """MQTT connections to one broker, started and closed together by an async context
    manager (``__aenter__`` in each kind); the messages their subscriptions receive queue up
    for :meth:`incoming`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout_s: float = CONNECT_TIMEOUT_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
    ) -> None:
        self.host = host
        self.port = port
        self._timeout_s = timeout_s
        self._reconnect_max_s = reconnect_max_s
        self._links: tuple[Link, ...] | None = None
        self._incoming: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    def _link(self, client_id: str, gate: asyncio.Semaphore, **options: Any) -> Link:
        """A link to this broker with these connections' timeout and reconnect limit."""
        return Link(
            self.host,
            self.port,
            client_id,
            gate,
            timeout_s=self._timeout_s,
            reconnect_max_s=self._reconnect_max_s,
            **options,
        )

    def _deliver(self, message: Message) -> None:
        """Queue a received message for :meth:`incoming`."""
        self._incoming.put_nowait((message.topic, message.payload))

    async def _start(self, links: Sequence[Link], ready: Sequence[Link]) -> None:
        """Start every link and wait for the first attempt of those in ``ready``;
        TransportError (and every link closed) if one of them could not connect."""
        ensure_open_files(len(links))
        self._links = tuple(links)
        for link in links:
            link.start()
        await asyncio.gather(*(link.attempted.wait() for link in ready))
        failed = next((link for link in ready if not link.up.is_set()), None)
        if failed is not None and not failed.held:
            await self._close()
            raise TransportError(failed.last_error or f"{failed.client_id} did not connect")

    def _started(self) -> tuple[Link, ...]:
        if self._links is None:
            raise TransportError("not connected")
        return self._links

    async def _close(self) -> None:
        links, self._links = self._links, None
        if links:
            await asyncio.gather(*(link.close() for link in links))

    async def incoming(self) -> AsyncIterator[tuple[str, bytes]]:
        """(topic, payload) of every message the subscriptions receive, in order."""
        self._started()
        while True:
            yield await self._incoming.get()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()
