"""MQTT 5 for asyncio, on paho-mqtt, with the control over acknowledgements Linli needs.

:class:`Client` is an async context manager around one connection. Beyond what most asyncio
MQTT clients offer, it can leave the acknowledgement of a received QoS 1 message to the
application (``manual_ack=True``, then :meth:`Client.ack` once the message is stored), keep a
session (``clean_start=False`` with ``session_expiry_s``) and bound what the broker sends
ahead of those acknowledgements (``receive_maximum``). A connection that ends before the
broker's CONNACK fails at once rather than after a timeout. Every failure is an
:class:`MqttError`.

paho's socket is driven by the asyncio event loop (readers and writers on its socket plus a
task for keep-alive), so every callback runs in the event loop's thread; only the blocking
TCP connect runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
_MISC_EVERY_S = 1.0


class MqttError(Exception):
    """A broker could not be reached, refused something, or the connection broke."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message as it arrived; ``dup`` is set when the broker delivers it again."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    mid: int


@dataclass(frozen=True, slots=True)
class Will:
    """What the broker publishes for the client if its connection dies without DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


class Client:
    """One MQTT 5 connection; ``async with Client(...) as client:`` connects and disconnects.

    ``receive_maximum`` is how many QoS 1 messages the broker may send before earlier ones
    are acknowledged (with ``manual_ack``, before the application called :meth:`ack`).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        clean_start: bool = True,
        session_expiry_s: int = 0,
        receive_maximum: int | None = None,
        manual_ack: bool = False,
        will: Will | None = None,
        keepalive_s: int = 30,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.host = host
        self.port = port
        self.name = f"{host}:{port}"
        self._clean_start = clean_start
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = receive_maximum
        self._keepalive_s = keepalive_s
        self._timeout_s = timeout_s
        self._manual_ack = manual_ack
        self.session_present = False
        """Whether the broker still had this client's session when it connected."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._connected: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[str] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._incoming: asyncio.Queue[Message] = asyncio.Queue()
        self._misc: asyncio.Task[None] | None = None
        self._sock: int | None = None
        paho_client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
            reconnect_on_failure=False,
        )
        paho_client.manual_ack_set(manual_ack)
        paho_client.max_queued_messages_set(0)
        if will is not None:
            paho_client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        paho_client.on_connect = self._on_connect
        paho_client.on_disconnect = self._on_disconnect
        paho_client.on_message = self._on_message
        paho_client.on_publish = self._on_publish
        paho_client.on_subscribe = self._on_subscribe
        paho_client.on_unsubscribe = self._on_unsubscribe
        paho_client.on_socket_open = self._on_socket_open
        paho_client.on_socket_close = self._on_socket_close
        paho_client.on_socket_register_write = self._on_socket_register_write
        paho_client.on_socket_unregister_write = self._on_socket_unregister_write
        self._paho = paho_client

    # ------------------------------------------------------------------ connection

    async def __aenter__(self) -> Client:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._connected = loop.create_future()
        self._lost = loop.create_future()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if self._session_expiry_s:
            properties.SessionExpiryInterval = self._session_expiry_s
        if self._receive_maximum is not None:
            properties.ReceiveMaximum = self._receive_maximum
        try:
            async with asyncio.timeout(self._timeout_s):
                await loop.run_in_executor(None, self._connect_blocking, properties)
                await self._connected
        except TimeoutError:
            self._close_socket()
            raise MqttError(f"{self.name}: no answer within {self._timeout_s:g} s") from None
        except (OSError, MqttError) as exc:
            self._close_socket()
            if isinstance(exc, MqttError):
                raise
            raise MqttError(f"{self.name}: {exc.strerror or exc}") from None
        except BaseException:
            self._close_socket()
            raise
        self._misc = loop.create_task(self._keep_alive(), name=f"mqtt-misc-{self.name}")
        return self

    def _connect_blocking(self, properties: Properties) -> None:
        self._paho.connect(
            self.host,
            self.port,
            keepalive=self._keepalive_s,
            clean_start=self._clean_start,
            properties=properties,
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lost is not None and not self._lost.done():
            self._paho.disconnect()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(self._timeout_s):
                    await asyncio.shield(self._lost)
        self._close_socket()
        if self._misc is not None:
            self._misc.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._misc

    def abort(self) -> None:
        """Drop the connection at once, without DISCONNECT: the broker publishes the will."""
        sock = self._paho.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._close_socket()
        self._fail_all("connection aborted")

    @property
    def is_connected(self) -> bool:
        return self._lost is not None and not self._lost.done()

    async def _keep_alive(self) -> None:
        while self._paho.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS:  # noqa: ASYNC110
            await asyncio.sleep(_MISC_EVERY_S)  # keep-alive is paced by time, not an event

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._unwatch_socket(self._sock)
        paho_socket = self._paho.socket()
        if paho_socket is not None:
            with contextlib.suppress(OSError):
                paho_socket.close()

    # ------------------------------------------------------------------ operations

    async def subscribe(self, filters: Sequence[str], *, qos: int = 1) -> None:
        """Subscribe to every filter in one SUBSCRIBE; MqttError if any is refused."""
        if not filters:
            return
        topics = [(f, SubscribeOptions(qos=qos)) for f in filters]
        result, mid = self._paho.subscribe(topics)
        self._check(result, "subscribe")
        assert mid is not None
        codes: list[ReasonCode] = await self._wait_for(mid, "subscribe")
        refused = [f for f, code in zip(filters, codes, strict=False) if code.is_failure]
        if refused:
            raise MqttError(f"{self.name}: subscription refused for {refused}")

    async def unsubscribe(self, filters: Sequence[str]) -> None:
        """Unsubscribe from every filter in one UNSUBSCRIBE, keeping the connection."""
        if not filters:
            return
        result, mid = self._paho.unsubscribe(list(filters))
        self._check(result, "unsubscribe")
        assert mid is not None
        await self._wait_for(mid, "unsubscribe")

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish; with QoS 1 this returns once the broker's PUBACK has arrived (MqttError
        if it refused the message or the connection broke first)."""
        info = self._paho.publish(topic, payload, qos=qos, retain=retain)
        self._check(info.rc, f"publish to {topic}")
        if qos > 0:
            await self._wait_for(info.mid, f"publish to {topic}")

    def ack(self, message: Message) -> None:
        """Acknowledge ``message`` to the broker (``manual_ack`` only; a no-op for QoS 0).

        Not acknowledging keeps it the broker's: it is delivered again after a reconnect.
        """
        if self._manual_ack and message.qos > 0 and self.is_connected:
            self._paho.ack(message.mid, message.qos)

    async def messages(self) -> AsyncIterator[Message]:
        """Messages on the subscribed filters, until the connection breaks (MqttError)."""
        lost = self._lost
        if lost is None:
            raise MqttError(f"{self.name}: not connected")
        while True:
            if not self._incoming.empty():
                yield self._incoming.get_nowait()
                continue
            if lost.done():
                raise MqttError(f"{self.name}: connection lost: {lost.result()}")
            getting = asyncio.ensure_future(self._incoming.get())
            waiting: set[asyncio.Future[Any]] = {getting, lost}
            try:
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not getting.done():
                    getting.cancel()
            if getting.done() and not getting.cancelled():
                yield getting.result()

    def _check(self, result: MQTTErrorCode | int, action: str) -> None:
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise MqttError(f"{self.name}: {action} failed: {paho.error_string(result)}")

    async def _wait_for(self, mid: int, action: str) -> Any:
        assert self._loop is not None and self._lost is not None
        if self._lost.done():
            raise MqttError(f"{self.name}: {action} failed: {self._lost.result()}")
        waiter = self._loop.create_future()
        self._pending[mid] = waiter
        try:
            async with asyncio.timeout(self._timeout_s):
                return await waiter
        except TimeoutError:
            raise MqttError(
                f"{self.name}: {action}: no answer within {self._timeout_s:g} s"
            ) from None
        finally:
            self._pending.pop(mid, None)

    def _fail_all(self, reason: str) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)
        if self._connected is not None and not self._connected.done():
            self._connected.set_exception(MqttError(f"{self.name}: {reason}"))
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(MqttError(f"{self.name}: {reason}"))

    # ------------------------------------------------------------------ paho callbacks

    def _on_connect(
        self, client: paho.Client, userdata: object, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if self._connected is None or self._connected.done():
            return
        if reason.is_failure:
            self._connected.set_exception(MqttError(f"{self.name}: connection refused: {reason}"))
            return
        self.session_present = bool(getattr(flags, "session_present", False))
        self._connected.set_result(None)

    def _on_disconnect(
        self, client: paho.Client, userdata: object, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self._fail_all(f"disconnected ({reason})")

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        self._incoming.put_nowait(
            Message(
                topic=message.topic,
                payload=bytes(message.payload),
                qos=message.qos,
                retain=bool(message.retain),
                dup=bool(message.dup),
                mid=message.mid,
            )
        )

    def _settle(self, mid: int, value: Any = None, error: str | None = None) -> None:
        waiter = self._pending.get(mid)
        if waiter is None or waiter.done():
            return
        if error is None:
            waiter.set_result(value)
        else:
            waiter.set_exception(MqttError(f"{self.name}: {error}"))

    def _on_publish(
        self, client: paho.Client, userdata: object, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        self._settle(mid, error=f"publish refused: {reason}" if reason.is_failure else None)

    def _on_subscribe(
        self, client: paho.Client, userdata: object, mid: int, codes: list[ReasonCode], props: Any
    ) -> None:
        self._settle(mid, codes)

    def _on_unsubscribe(
        self, client: paho.Client, userdata: object, mid: int, codes: Any, props: Any
    ) -> None:
        self._settle(mid)

    # The socket callbacks come from the event loop's thread, except while connecting, when
    # they come from the worker thread that connects: those are handed to the loop.

    def _in_loop(self, action: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            action(*args)
        else:
            self._loop.call_soon_threadsafe(action, *args)

    def _on_socket_open(self, client: paho.Client, userdata: object, sock: Any) -> None:
        self._in_loop(self._watch_socket, sock.fileno())

    def _watch_socket(self, fileno: int) -> None:
        assert self._loop is not None
        self._sock = fileno
        self._loop.add_reader(fileno, self._paho.loop_read)

    def _on_socket_close(self, client: paho.Client, userdata: object, sock: Any) -> None:
        self._in_loop(self._unwatch_socket, sock.fileno())
        self._in_loop(self._fail_all, "connection closed")

    def _unwatch_socket(self, fileno: int) -> None:
        assert self._loop is not None
        if fileno < 0 or self._loop.is_closed():
            return
        with contextlib.suppress(OSError, ValueError):
            self._loop.remove_reader(fileno)
            self._loop.remove_writer(fileno)
        if self._sock == fileno:
            self._sock = None

    def _on_socket_register_write(self, client: paho.Client, userdata: object, sock: Any) -> None:
        self._in_loop(self._want_write, sock.fileno(), True)

    def _on_socket_unregister_write(self, client: paho.Client, userdata: object, sock: Any) -> None:
        self._in_loop(self._want_write, sock.fileno(), False)

    def _want_write(self, fileno: int, wanted: bool) -> None:
        assert self._loop is not None
        if fileno < 0 or fileno != self._sock:
            return
        if wanted:
            self._loop.add_writer(fileno, self._paho.loop_write)
        else:
            self._loop.remove_writer(fileno)
