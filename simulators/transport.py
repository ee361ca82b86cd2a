"""MQTT for the simulator: the only module that talks to aiomqtt.

The simulator publishes through a :class:`Transport` and receives through it the control
topic's messages and the commands sent to its devices; two kinds exist:

- :class:`SharedConnection` multiplexes every device over a few MQTT connections (one by
  default), devices spread over them round-robin; the first also carries the control topic.
- :class:`DeviceConnections` gives each device its own connection, with the device id as
  client id and a last will (``offline`` on ``linli/sim/lwt/<device_id>``, QoS 1, not
  retained), plus one connection for the control topic.

``linli sim record`` and ``replay`` use :class:`Subscription` and :class:`Publisher`.

Every connection is kept up by its own supervisor (:class:`_Link`): when it is lost it
reconnects after a jittered exponential backoff, and at most ``connect_concurrency``
connections of one transport are being set up at any moment. Supervisors are stopped by
setting flags and events, never by cancelling a task that is waiting inside aiomqtt (on
Python 3.11 such a cancellation can be lost).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import resource
import socket
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Protocol

import aiomqtt

from simulators.device import SimulatorError
from simulators.faults import CONTROL_TOPIC

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
DEFAULT_CONNECT_CONCURRENCY = 50
"""Connections of one transport that may be connecting at the same time."""
WILL_TOPIC = "linli/sim/lwt/{device_id}"
"""Where the broker announces a device whose own connection dropped (per-device mode)."""
WILL_PAYLOAD = b"offline"
INITIAL_BACKOFF_S = 0.5
STABLE_AFTER_S = 10.0
"""A connection that stayed up this long resets its reconnect backoff."""
FILES_PER_PROCESS = 100
"""Open files a simulator needs besides its MQTT connections (interpreter, logs, loop)."""
MAX_IN_FLIGHT_PER_CONNECTION = 1000
"""QoS 1/2 messages one connection may have unacknowledged before paho queues them."""


class TransportError(Exception):
    """The broker could not be reached, or the connection to it was lost."""


class OpenFileLimit(SimulatorError):
    """This process may not open enough files (sockets) for the connections asked for."""


def topic_matches(topic: str, topic_filter: str) -> bool:
    """Whether ``topic`` matches the MQTT subscription filter ``topic_filter``."""
    return aiomqtt.Topic(topic).matches(topic_filter)


def will_topic(device_id: str) -> str:
    """The topic of ``device_id``'s last will."""
    return WILL_TOPIC.format(device_id=device_id)


def ensure_open_files(connections: int) -> int:
    """Make room for ``connections`` sockets; the soft RLIMIT_NOFILE now in force.

    Raises the soft limit to the hard limit when it is too low; OpenFileLimit, saying what to
    do, when even the hard limit is too low. The broker needs as many descriptors as well.
    """
    needed = connections + FILES_PER_PROCESS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise OpenFileLimit(
            f"{connections} MQTT connections need about {needed} open files, but this process "
            f"may open at most {hard} (hard RLIMIT_NOFILE); raise it (ulimit -Hn, or "
            f"LimitNOFILE= in a systemd unit), or use fewer connections "
            f"(--connection-mode shared)"
        )
    target = hard if hard != resource.RLIM_INFINITY else max(needed, 1 << 20)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        # an unlimited hard limit may still be capped by the kernel (fs.nr_open)
        target = needed
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    log.info("open-file limit raised from %d to %d for %d connections", soft, target, connections)
    return target


class Transport(Protocol):
    """How simulated devices reach the broker and the simulator receives control messages."""

    async def publish(self, device_id: str, topic: str, payload: bytes, qos: int) -> None:
        """Publish ``payload`` on ``topic`` on behalf of ``device_id``; TransportError if lost."""
        ...

    def incoming(self) -> AsyncIterator[tuple[str, bytes]]:
        """(topic, payload) of messages on the control topic and the devices' command topics."""
        ...

    def drop(self, device_id: str) -> None:
        """Cut ``device_id`` off without an MQTT DISCONNECT, until :meth:`restore`."""
        ...

    def restore(self, device_id: str) -> None:
        """Let ``device_id`` connect again after :meth:`drop`."""
        ...


@contextmanager
def _mqtt_errors(action: str) -> Iterator[None]:
    try:
        yield
    except aiomqtt.MqttError as exc:
        raise TransportError(f"{action}: {exc}") from exc


def _as_bytes(payload: bytes | bytearray | str | float | None) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    return str(payload).encode()


def _unique_client_id(role: str) -> str:
    return f"linli-sim-{role}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


OnMessage = Callable[[str, bytes], None]


class _Link:
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
        will: aiomqtt.Will | None = None,
        subscriptions: Sequence[str] = (),
        on_message: OnMessage | None = None,
        on_change: Callable[[_Link], None] | None = None,
        timeout_s: float = CONNECT_TIMEOUT_S,
        reconnect_max_s: float = 10.0,
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
        self._reconnect_max_s = reconnect_max_s
        self._log_level = logging.DEBUG if quiet else logging.WARNING
        self._client: aiomqtt.Client | None = None
        self._closing = False
        self._held = False
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._rng = random.Random(client_id)

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
        with _mqtt_errors(f"publish on {topic} by {self.client_id} failed"):
            await client.publish(topic, payload, qos=qos)

    # -- the supervisor ---------------------------------------------------------------

    async def _supervise(self) -> None:
        backoff = INITIAL_BACKOFF_S
        loop = asyncio.get_running_loop()
        while not self._closing:
            if self._held:
                self._changed.clear()
                if self._held and not self._closing:
                    await self._changed.wait()
                continue
            client = await self._connect()
            self.attempted.set()
            if client is None:
                if self._closing or self._held:
                    continue
                log.log(self._log_level, "%s; retrying in %.1fs", self.last_error, backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, self._reconnect_max_s)
                continue
            connected_at = loop.time()
            self._client = client
            self.connects += 1
            self._set_up(True)
            try:
                lost = await self._serve(client)
            finally:
                self._set_up(False)
                self._client = None
            if loop.time() - connected_at >= STABLE_AFTER_S:
                backoff = INITIAL_BACKOFF_S
            if lost:
                log.log(self._log_level, "%s lost: %s; reconnecting", self.client_id, lost)
                await self._pause(backoff)
                backoff = min(backoff * 2, self._reconnect_max_s)

    async def _pause(self, delay: float) -> None:
        """``delay`` jittered to 50 to 100 %, cut short by close/hold/release."""
        self._changed.clear()
        with suppress(TimeoutError):
            async with asyncio.timeout(delay * (0.5 + self._rng.random() / 2)):
                await self._changed.wait()

    def _set_up(self, up: bool) -> None:
        if up:
            self.up.set()
        else:
            self.up.clear()
        if self._on_change is not None:
            self._on_change(self)

    async def _connect(self) -> aiomqtt.Client | None:
        async with self._gate:
            if self._closing or self._held:
                return None
            client = aiomqtt.Client(
                self.host,
                self.port,
                identifier=self.client_id,
                will=self._will,
                timeout=self._timeout_s,
                max_inflight_messages=MAX_IN_FLIGHT_PER_CONNECTION,
            )
            # aiomqtt warns about more than this many unacknowledged calls; a busy
            # shared connection has hundreds by design
            client.pending_calls_threshold = MAX_IN_FLIGHT_PER_CONNECTION
            where = f"{self.host}:{self.port}"
            try:
                await client.__aenter__()
            except aiomqtt.MqttError as exc:
                self.last_error = f"cannot connect to MQTT broker {where}: {exc}"
                return None
            try:
                for topic_filter in self._subscriptions:
                    await client.subscribe(topic_filter, qos=1)
            except aiomqtt.MqttError as exc:
                self.last_error = f"cannot subscribe to {topic_filter} on {where}: {exc}"
                await self._disconnect(client)
                return None
            self.last_error = None
            log.debug("connected to %s as %s", where, self.client_id)
            return client

    async def _serve(self, client: aiomqtt.Client) -> str | None:
        """Until the connection is lost (the reason) or close/hold asks (None)."""
        watcher = asyncio.create_task(self._watch(client))
        while True:
            self._changed.clear()
            if self._closing or self._held:
                break
            poke = asyncio.create_task(self._changed.wait())
            try:
                await asyncio.wait({watcher, poke}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                poke.cancel()
            if watcher.done():
                reason = self._lost_reason(watcher)
                await self._disconnect(client)
                return reason
        if self._closing and not self._held:
            await self._stop_watching(watcher)
            await self._disconnect(client)
        else:
            await self._abort(client, watcher)
        return None

    async def _watch(self, client: aiomqtt.Client) -> None:
        """Read incoming messages until the connection ends (aiomqtt raises MqttError)."""
        async for message in client.messages:
            if self._on_message is not None:
                self._on_message(str(message.topic), _as_bytes(message.payload))

    @staticmethod
    def _lost_reason(watcher: asyncio.Task[None]) -> str:
        if watcher.cancelled():
            return "stopped"
        error = watcher.exception()
        if error is None:
            return "connection closed"
        if not isinstance(error, aiomqtt.MqttError):
            raise error
        return str(error.__cause__ or error)

    @staticmethod
    async def _stop_watching(watcher: asyncio.Task[None]) -> None:
        # cancelling is safe here: MessagesIterator waits in asyncio.wait, not wait_for
        watcher.cancel()
        await asyncio.wait({watcher})
        if not watcher.cancelled() and watcher.exception() is not None:
            log.debug("%s", watcher.exception())

    async def _disconnect(self, client: aiomqtt.Client) -> None:
        try:
            await client.__aexit__(None, None, None)
        except aiomqtt.MqttError as exc:
            log.debug("%s closed uncleanly: %s", self.client_id, exc)

    async def _abort(self, client: aiomqtt.Client, watcher: asyncio.Task[None]) -> None:
        """Close the socket without DISCONNECT, as a device that loses power would."""
        # aiomqtt has no public way to drop a connection abruptly; the paho client it wraps
        # hands out its socket
        sock = client._client.socket()
        if isinstance(sock, socket.socket):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            # aiomqtt notices the closed socket and ends the message iterator
            await asyncio.wait({watcher}, timeout=self._timeout_s)
        await self._stop_watching(watcher)
        await self._disconnect(client)
        log.info("%s dropped without DISCONNECT", self.client_id)


class _Links:
    """Links started together, with a shared limit on concurrent connects."""

    def __init__(self, links: Sequence[_Link], ready: Sequence[_Link]) -> None:
        self.links = tuple(links)
        self._ready = tuple(ready)

    async def start(self) -> None:
        """Start every link; wait for the first attempt of those in ``ready``; TransportError."""
        ensure_open_files(len(self.links))
        for link in self.links:
            link.start()
        await asyncio.gather(*(link.attempted.wait() for link in self._ready))
        failed = next((link for link in self._ready if not link.up.is_set()), None)
        if failed is not None and not failed.held:
            await self.close()
            raise TransportError(failed.last_error or f"{failed.client_id} did not connect")

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self.links))


def _gate(concurrency: int) -> asyncio.Semaphore:
    if concurrency < 1:
        raise ValueError(f"connect concurrency must be at least 1, got {concurrency}")
    return asyncio.Semaphore(concurrency)


class SharedConnection:
    """Every simulated device multiplexed over ``connections`` MQTT connections.

    ``devices`` are spread over the connections round-robin in the order given (a device
    not listed goes by a hash of its id). The first connection also subscribes to the
    control topic. An async context manager: on entry every connection connects (and the
    first subscribes), TransportError if one cannot; afterwards each reconnects on its own.
    Devices have no connection of their own, so :meth:`drop` only silences (the simulator
    stops publishing for the device) and no will is published.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connections: int = 1,
        devices: Sequence[str] = (),
        control_topic: str = CONTROL_TOPIC,
        command_filters: Sequence[str] = (),
        client_id: str | None = None,
        timeout_s: float = CONNECT_TIMEOUT_S,
        reconnect_max_s: float = 10.0,
        connect_concurrency: int = DEFAULT_CONNECT_CONCURRENCY,
    ) -> None:
        if connections < 1:
            raise ValueError(f"connections must be at least 1, got {connections}")
        self.host = host
        self.port = port
        self.control_topic = control_topic
        self.subscriptions = (control_topic, *dict.fromkeys(command_filters))
        base = client_id or _unique_client_id("shared")
        self.client_ids = (
            (base,) if connections == 1 else tuple(f"{base}-{i}" for i in range(connections))
        )
        self._assigned = {device_id: i % connections for i, device_id in enumerate(devices)}
        self._timeout_s = timeout_s
        self._reconnect_max_s = reconnect_max_s
        self._concurrency = connect_concurrency
        self._incoming: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._links: _Links | None = None

    @property
    def client_id(self) -> str:
        """The client id of the first connection (the one with the control subscription)."""
        return self.client_ids[0]

    def connection_of(self, device_id: str) -> int:
        """Index of the connection that carries ``device_id``'s messages."""
        index = self._assigned.get(device_id)
        if index is None:
            index = zlib.crc32(device_id.encode()) % len(self.client_ids)
        return index

    def _on_message(self, topic: str, payload: bytes) -> None:
        self._incoming.put_nowait((topic, payload))

    async def __aenter__(self) -> SharedConnection:
        gate = _gate(self._concurrency)
        links = [
            _Link(
                self.host,
                self.port,
                client_id,
                gate,
                subscriptions=self.subscriptions if i == 0 else (),
                on_message=self._on_message if i == 0 else None,
                timeout_s=self._timeout_s,
                reconnect_max_s=self._reconnect_max_s,
            )
            for i, client_id in enumerate(self.client_ids)
        ]
        self._links = _Links(links, ready=links)
        await self._links.start()
        log.info(
            "connected to %s:%d over %d connection(s)", self.host, self.port, len(self.client_ids)
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        links, self._links = self._links, None
        if links is not None:
            await links.close()

    def _link(self, index: int) -> _Link:
        if self._links is None:
            raise TransportError("not connected")
        return self._links.links[index]

    async def publish(self, device_id: str, topic: str, payload: bytes, qos: int) -> None:
        await self._link(self.connection_of(device_id)).publish(topic, payload, qos)

    async def incoming(self) -> AsyncIterator[tuple[str, bytes]]:
        self._link(0)
        while True:
            yield await self._incoming.get()

    def drop(self, device_id: str) -> None:
        """Nothing to cut: the device shares its connection with others."""

    def restore(self, device_id: str) -> None:
        """Nothing to restore (see :meth:`drop`)."""


class DeviceConnections:
    """One MQTT connection per simulated device, plus one for the control topic.

    Each device connects with its id as client id and a last will (:data:`WILL_PAYLOAD` on
    :func:`will_topic`, QoS 1, not retained), so the broker announces a device whose
    connection drops. An async context manager: on entry every connection starts (at most
    ``connect_concurrency`` connecting at once); entry waits for the control connection only
    (TransportError if it cannot connect) and ``all_up`` is set once every device is
    connected. A device whose connection is still being set up when it publishes waits up to
    the timeout for it; each connection reconnects on its own, with backoff.
    """

    def __init__(
        self,
        host: str,
        port: int,
        devices: Sequence[str],
        *,
        control_topic: str = CONTROL_TOPIC,
        command_filters: Sequence[str] = (),
        timeout_s: float = CONNECT_TIMEOUT_S,
        reconnect_max_s: float = 10.0,
        connect_concurrency: int = DEFAULT_CONNECT_CONCURRENCY,
    ) -> None:
        if len(set(devices)) != len(devices):
            raise ValueError("device ids must be unique: each is an MQTT client id")
        self.host = host
        self.port = port
        self.devices = tuple(devices)
        self.control_topic = control_topic
        self.subscriptions = (control_topic, *dict.fromkeys(command_filters))
        self.control_client_id = _unique_client_id("control")
        self.all_up = asyncio.Event()
        """Set while every device's connection is up."""
        self._timeout_s = timeout_s
        self._reconnect_max_s = reconnect_max_s
        self._concurrency = connect_concurrency
        self._incoming: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._by_device: dict[str, _Link] = {}
        self._up: set[str] = set()
        self._held: set[str] = set()
        self._links: _Links | None = None
        self._started_at = 0.0
        self._announced = False

    @property
    def connected(self) -> int:
        """How many device connections are up now."""
        return len(self._up)

    def connects(self, device_id: str) -> int:
        """How many times ``device_id``'s connection has been established."""
        link = self._by_device.get(device_id)
        return 0 if link is None else link.connects

    def _on_message(self, topic: str, payload: bytes) -> None:
        self._incoming.put_nowait((topic, payload))

    def _on_change(self, link: _Link) -> None:
        if link.up.is_set():
            self._up.add(link.client_id)
        else:
            self._up.discard(link.client_id)
        if len(self._up) == len(self.devices):
            self.all_up.set()
            if not self._announced:
                self._announced = True
                log.info(
                    "all %d device connections up in %.1fs",
                    len(self.devices),
                    time.monotonic() - self._started_at,
                )
        else:
            self.all_up.clear()

    async def __aenter__(self) -> DeviceConnections:
        gate = _gate(self._concurrency)
        control = _Link(
            self.host,
            self.port,
            self.control_client_id,
            gate,
            subscriptions=self.subscriptions,
            on_message=self._on_message,
            timeout_s=self._timeout_s,
            reconnect_max_s=self._reconnect_max_s,
        )
        self._by_device = {
            device_id: _Link(
                self.host,
                self.port,
                device_id,
                gate,
                will=aiomqtt.Will(will_topic(device_id), WILL_PAYLOAD, qos=1, retain=False),
                on_change=self._on_change,
                timeout_s=self._timeout_s,
                reconnect_max_s=self._reconnect_max_s,
                quiet=True,
            )
            for device_id in self.devices
        }
        for device_id in self._held:
            self._by_device[device_id].hold()
        self._started_at = time.monotonic()
        self._links = _Links([control, *self._by_device.values()], ready=[control])
        await self._links.start()
        log.info(
            "connected to %s:%d; connecting %d devices, %d at a time",
            self.host,
            self.port,
            len(self.devices),
            self._concurrency,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        links, self._links = self._links, None
        if links is not None:
            await links.close()
        self._up.clear()
        self.all_up.clear()

    def _link(self, device_id: str) -> _Link:
        if self._links is None:
            raise TransportError("not connected")
        try:
            return self._by_device[device_id]
        except KeyError:
            raise TransportError(f"no connection for device {device_id!r}") from None

    async def publish(self, device_id: str, topic: str, payload: bytes, qos: int) -> None:
        await self._link(device_id).publish(topic, payload, qos)

    async def incoming(self) -> AsyncIterator[tuple[str, bytes]]:
        if self._links is None:
            raise TransportError("not connected")
        while True:
            yield await self._incoming.get()

    def drop(self, device_id: str) -> None:
        """Close the device's socket without DISCONNECT (the broker publishes its will);
        it stays offline until :meth:`restore`."""
        self._held.add(device_id)
        link = self._by_device.get(device_id)
        if link is not None:
            link.hold()

    def restore(self, device_id: str) -> None:
        self._held.discard(device_id)
        link = self._by_device.get(device_id)
        if link is not None:
            link.release()


class Subscription:
    """One connection subscribed with QoS 1 to ``filters``, handing each message to
    ``on_message(topic, payload)``; an async context manager that reconnects by itself
    (messages sent while it is disconnected are missed). TransportError on entry if the
    broker cannot be reached."""

    def __init__(
        self,
        host: str,
        port: int,
        filters: Sequence[str],
        on_message: OnMessage,
        *,
        timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self.host = host
        self.port = port
        self._link = _Link(
            host,
            port,
            _unique_client_id("record"),
            asyncio.Semaphore(1),
            subscriptions=filters,
            on_message=on_message,
            timeout_s=timeout_s,
        )

    async def __aenter__(self) -> Subscription:
        links = _Links([self._link], ready=[self._link])
        await links.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._link.close()


class Publisher:
    """One connection for publishing on any topic; an async context manager.

    Messages are sent in the order :meth:`publish` is called, also while several are
    awaiting their acknowledgement. TransportError on entry if the broker cannot be reached.
    """

    def __init__(self, host: str, port: int, *, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self.host = host
        self.port = port
        self._link = _Link(
            host, port, _unique_client_id("replay"), asyncio.Semaphore(1), timeout_s=timeout_s
        )

    async def __aenter__(self) -> Publisher:
        await _Links([self._link], ready=[self._link]).start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._link.close()

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        await self._link.publish(topic, payload, qos)


async def publish_once(
    host: str, port: int, topic: str, payload: bytes, *, timeout_s: float = 5.0
) -> None:
    """Connect, publish one message with QoS 1, disconnect; TransportError on failure."""
    client_id = _unique_client_id("cli")
    with _mqtt_errors(f"cannot publish to MQTT broker {host}:{port}"):
        async with aiomqtt.Client(host, port, identifier=client_id, timeout=timeout_s) as client:
            await client.publish(topic, payload, qos=1)
