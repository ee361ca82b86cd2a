"""One MQTT connection driven by the asyncio event loop, through paho-mqtt's public API.

paho-mqtt can run on its caller's event loop: it says when its socket opens, closes and has
data to write (``on_socket_*``), and the caller calls ``loop_read``, ``loop_write`` and,
every second, ``loop_misc`` (keepalive). :class:`MqttConnection` does so on the running
asyncio loop and turns paho's callbacks into awaitables: connected, subscribed, published
(acknowledged, at QoS 1 and 2) and :attr:`~MqttConnection.lost`. It connects once and never
reconnects (:class:`simulators.transport.link.Link` does). :meth:`MqttConnection.abort` ends
it without an MQTT DISCONNECT, as a device that loses power would: the broker publishes its
will.

The only module of the simulator that calls paho-mqtt.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

KEEPALIVE_S = 60
"""Seconds between keepalive pings on an idle connection."""
MISC_EVERY_S = 1.0
"""How often paho's keepalive bookkeeping runs."""

OnMessage = Callable[[str, bytes], None]
"""Handed (topic, payload) of every message a subscription receives."""


class TransportError(Exception):
    """The broker could not be reached, or the connection to it was lost."""


@dataclass(frozen=True)
class Will:
    """A last will: published by the broker when the connection ends without DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


def topic_matches(topic: str, topic_filter: str) -> bool:
    """Whether ``topic`` matches the MQTT subscription filter ``topic_filter``."""
    return mqtt.topic_matches_sub(topic_filter, topic)


class MqttConnection:
    """One MQTT 3.1.1 connection as ``client_id``; make it inside the running event loop.

    ``timeout_s`` bounds connecting and every acknowledgement awaited. ``on_message`` is
    handed every message the connection's subscriptions receive.
    """

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        timeout_s: float,
        will: Will | None = None,
        max_in_flight: int = 20,
        on_message: OnMessage | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self._timeout_s = timeout_s
        self._on_message = on_message
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._connected: asyncio.Future[str | None] = self._loop.create_future()
        """None once the broker accepted the connection, or why it did not."""
        self.lost: asyncio.Future[str] = self._loop.create_future()
        """Done, with the reason, once the connection has ended (cleanly or not)."""
        self._replies: dict[int, asyncio.Future[Any]] = {}
        self._keepalive: asyncio.Task[None] | None = None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, reconnect_on_failure=False
        )
        client.connect_timeout = timeout_s
        client.max_inflight_messages_set(max_in_flight)
        if will is not None:
            client.will_set(will.topic, will.payload, will.qos, will.retain)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_incoming
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write
        self._paho = client

    # -- what the caller awaits -------------------------------------------------------

    async def connect(self) -> None:
        """Connect and wait for the broker's CONNACK; TransportError if it cannot be reached
        or refuses."""
        try:
            # paho connects with a blocking socket call: in a thread, as aiomqtt does
            rc = await self._loop.run_in_executor(
                None, self._paho.connect, self.host, self.port, KEEPALIVE_S
            )
        except (OSError, ValueError) as exc:  # refused, unreachable, timed out, bad host
            raise TransportError(str(exc)) from None
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise TransportError(mqtt.error_string(rc))
        try:
            async with asyncio.timeout(self._timeout_s):
                problem = await asyncio.shield(self._connected)
        except TimeoutError:
            await self.abort()
            raise TransportError(f"no CONNACK within {self._timeout_s:g}s") from None
        if problem is not None:
            raise TransportError(problem)

    async def subscribe(self, filters: Sequence[str], qos: int = 1) -> None:
        """Subscribe to ``filters`` and wait for the SUBACK; TransportError if refused."""
        if not filters:
            return
        result, mid = self._paho.subscribe([(topic_filter, qos) for topic_filter in filters])
        if result != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise TransportError(f"cannot subscribe: {mqtt.error_string(result)}")
        codes: list[ReasonCode] = await self._reply(mid, "subscribe")
        refused = [f for f, code in zip(filters, codes, strict=False) if code.is_failure]
        if refused:
            raise TransportError(f"the broker refused the subscription to {', '.join(refused)}")

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """Publish and wait until it is sent (QoS 0) or acknowledged (QoS 1 and 2);
        TransportError if it cannot be, or the connection is lost meanwhile."""
        info = self._paho.publish(topic, payload, qos)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise TransportError(mqtt.error_string(info.rc))
        await self._reply(info.mid, "publish", done=info.is_published)

    async def disconnect(self) -> None:
        """End the connection with an MQTT DISCONNECT: the broker discards the will."""
        if self.lost.done():
            return
        if self._paho.disconnect() == MQTTErrorCode.MQTT_ERR_SUCCESS:
            await asyncio.wait({self.lost}, timeout=self._timeout_s)
        if not self.lost.done():
            await self.abort()

    async def abort(self) -> None:
        """End the connection without DISCONNECT, as a device that loses power would: the
        socket is shut down, and the broker publishes the will."""
        sock = self._paho.socket()
        if isinstance(sock, socket.socket):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            # paho reads the end of the stream, closes the socket and reports the loss
            await asyncio.wait({self.lost}, timeout=self._timeout_s)
        self._lose("aborted")

    async def _reply(self, mid: int, what: str, done: Callable[[], bool] | None = None) -> Any:
        """The acknowledgement of message ``mid``; TransportError after the timeout, or when
        the connection is lost first."""
        reply: asyncio.Future[Any] = self._loop.create_future()
        self._replies[mid] = reply
        try:
            if done is not None and done():
                return None
            async with asyncio.timeout(self._timeout_s):
                return await reply
        except TimeoutError:
            raise TransportError(
                f"{what}: no acknowledgement within {self._timeout_s:g}s"
            ) from None
        finally:
            self._replies.pop(mid, None)

    def _lose(self, reason: str) -> None:
        error = TransportError(reason)
        if not self._connected.done():
            self._connected.set_result(reason)
        if not self.lost.done():
            self.lost.set_result(reason)
        for reply in self._replies.values():
            if not reply.done():
                reply.set_exception(error)
        self._replies.clear()

    # -- paho's callbacks (on the event loop, but for socket opening during connect) -----

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, code: ReasonCode, props: Any
    ) -> None:
        if self._connected.done():
            return
        self._connected.set_result(f"the broker refused: {code}" if code.is_failure else None)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, code: ReasonCode, props: Any
    ) -> None:
        self._lose(f"connection lost ({code})" if code.is_failure else "disconnected")

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, code: ReasonCode, props: Any
    ) -> None:
        reply = self._replies.get(mid)
        if reply is not None and not reply.done():
            reply.set_result(None)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, codes: list[ReasonCode], props: Any
    ) -> None:
        reply = self._replies.get(mid)
        if reply is not None and not reply.done():
            reply.set_result(codes)

    def _on_incoming(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._on_message is None:
            return
        try:
            self._on_message(message.topic, bytes(message.payload))
        except Exception:  # a bad message must not end the connection
            log.exception("%s: message on %r not handled", self.client_id, message.topic)

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._watch, sock)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # called before paho closes the socket, whose descriptor may be reused right after
        self._in_loop(self._unwatch, sock)

    def _on_socket_register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._watch_writable, sock)

    def _on_socket_unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._unwatch_writable, sock)

    # -- driving paho from the event loop ----------------------------------------------

    def _in_loop(self, function: Callable[[Any], None], sock: Any) -> None:
        if threading.get_ident() == self._loop_thread:
            function(sock)
        else:  # paho's connect, running in a thread
            self._loop.call_soon_threadsafe(function, sock)

    def _watch(self, sock: Any) -> None:
        fd = sock.fileno()
        if fd < 0:  # closed before the loop got to it
            return
        self._loop.add_reader(fd, self._read)
        if self._keepalive is None:
            self._keepalive = self._loop.create_task(self._keep_alive())

    def _unwatch(self, sock: Any) -> None:
        fd = sock.fileno()
        if fd >= 0:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)
        if self._keepalive is not None:
            self._keepalive.cancel()

    def _watch_writable(self, sock: Any) -> None:
        fd = sock.fileno()
        if fd >= 0:
            self._loop.add_writer(fd, self._write)

    def _unwatch_writable(self, sock: Any) -> None:
        fd = sock.fileno()
        if fd >= 0:
            self._loop.remove_writer(fd)

    def _read(self) -> None:
        try:
            self._paho.loop_read()
        except Exception as exc:  # a broken socket paho did not handle itself
            self._fail(f"read failed: {exc}")

    def _write(self) -> None:
        try:
            self._paho.loop_write()
        except Exception as exc:
            self._fail(f"write failed: {exc}")

    def _fail(self, reason: str) -> None:
        log.debug("%s: %s", self.client_id, reason)
        sock = self._paho.socket()
        if isinstance(sock, socket.socket):
            self._unwatch(sock)
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._lose(reason)

    async def _keep_alive(self) -> None:
        """paho's keepalive bookkeeping (pings, a broker gone quiet), until the socket closes."""
        while True:
            await asyncio.sleep(MISC_EVERY_S)
            if self._paho.loop_misc() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
