"""One MQTT connection on asyncio: :class:`Client` (see :mod:`plumbing.mqtt`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from plumbing.mqtt.access import ANONYMOUS, BrokerAccess, Will
from plumbing.mqtt.answers import Answers
from plumbing.mqtt.driver import SocketDriver
from plumbing.mqtt.errors import MqttError
from plumbing.mqtt.packets import Message, publish_qos1

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_IN_FLIGHT = 20
"""Outgoing QoS 1 and 2 messages awaiting the broker's acknowledgement at once."""
_MQTT_MAX_IN_FLIGHT = 65535
"""What MQTT allows at most, and a broker's Receive Maximum when its CONNACK names none."""
_MISC_EVERY_S = 1.0

MqttVersion = Literal["5", "3.1.1"]
"""The protocol a :class:`Client` speaks."""


def topic_matches(topic: str, topic_filter: str) -> bool:
    """Whether ``topic`` matches the subscription filter ``topic_filter`` (``+``, ``#``)."""
    return paho.topic_matches_sub(topic_filter, topic)


class Client(SocketDriver):
    """One MQTT connection; ``async with Client(...) as client:`` connects and disconnects.

    ``receive_maximum`` is how many QoS 1 messages the broker may send before earlier ones
    are acknowledged (with ``manual_ack``, before the application called :meth:`ack`).
    ``max_in_flight`` is how many QoS 1 and 2 messages this client sends before the broker
    acknowledged earlier ones (0: no limit); later ones wait in paho, in order.

    ``protocol`` is ``"5"`` or ``"3.1.1"``; MQTT 3.1.1 has no session expiry and no receive
    maximum (ValueError if given), and ``clean_start=False`` keeps the session until a clean
    connection ends it.

    ``on_message``, if given, is called in the event loop's thread with every message the
    subscriptions receive, instead of :meth:`messages` yielding them; an exception it raises
    is logged and the connection goes on.
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
        protocol: MqttVersion = "5",
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        on_message: Callable[[Message], None] | None = None,
        access: BrokerAccess = ANONYMOUS,
    ) -> None:
        if protocol not in ("5", "3.1.1"):
            raise ValueError(f"protocol must be '5' or '3.1.1', got {protocol!r}")
        if protocol == "3.1.1" and (session_expiry_s or receive_maximum is not None):
            raise ValueError("session_expiry_s and receive_maximum need MQTT 5")
        if max_in_flight < 0:
            raise ValueError(f"max_in_flight must be 0 (no limit) or more, got {max_in_flight}")
        self.host = host
        self.port = port
        self.name = f"{host}:{port}"
        self._clean_start = clean_start
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = receive_maximum
        self._keepalive_s = keepalive_s
        self._timeout_s = timeout_s
        self._manual_ack = manual_ack
        self._mqtt5 = protocol == "5"
        self._on_message_given = on_message
        self.session_present = False
        """Whether the broker still had this client's session when it connected."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._connected: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[str] | None = None
        self._answers = Answers(self.name, timeout_s)
        self._max_in_flight = max_in_flight or _MQTT_MAX_IN_FLIGHT
        # made with the first message or the first call of messages(): thousands of
        # connections that only publish, or hand messages to on_message, need none
        self._incoming: asyncio.Queue[Message] | None = None
        self._misc: asyncio.Task[None] | None = None
        self._sock: int | None = None
        self._reading = True
        self._inbox = bytearray()  # read from the socket, not yet cut into packets
        self._acks = bytearray()  # PUBACKs waiting to be written, in order
        self._acks_due = False  # a write of self._acks is scheduled
        self._more = False  # whole packets wait in self._inbox for the next pass
        self._pass_due = False  # the next pass is scheduled
        paho_client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5 if self._mqtt5 else paho.MQTTv311,
            clean_session=None if self._mqtt5 else clean_start,
            reconnect_on_failure=False,
        )
        paho_client.connect_timeout = timeout_s
        paho_client.manual_ack_set(manual_ack)
        paho_client.max_queued_messages_set(0)
        paho_client.max_inflight_messages_set(max_in_flight)
        if will is not None:
            paho_client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        if access.username is not None:
            paho_client.username_pw_set(access.username, access.password)
        if access.uses_tls:
            paho_client.tls_set(
                ca_certs=str(access.ca_file) if access.ca_file else None,
                certfile=str(access.cert_file) if access.cert_file else None,
                keyfile=str(access.key_file) if access.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
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
        self._answers.loop = loop
        self._loop_thread = threading.get_ident()
        self._connected = loop.create_future()
        self._lost = loop.create_future()
        properties: Properties | None = None
        if self._mqtt5:
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
            self._not_connected("no answer")
            raise MqttError(f"{self.name}: no answer within {self._timeout_s:g} s") from None
        except (OSError, MqttError) as exc:
            self._not_connected("refused")
            if isinstance(exc, MqttError):
                raise
            raise MqttError(f"{self.name}: {exc.strerror or exc}") from None
        except BaseException:
            self._not_connected("connecting was interrupted")
            raise
        self._misc = loop.create_task(self._keep_alive(), name=f"mqtt-misc-{self.name}")
        return self

    def _not_connected(self, reason: str) -> None:
        """After a failed connect: nothing left open, and the client says it is not connected."""
        assert self._connected is not None
        self._connected.cancel()  # nobody awaits it any more
        self._close_socket()
        self._fail_all(f"not connected: {reason}")

    def _connect_blocking(self, properties: Properties | None) -> None:
        if properties is None:  # MQTT 3.1.1: clean_session was given to paho's Client
            self._paho.connect(self.host, self.port, keepalive=self._keepalive_s)
            return
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
        self._fail_all("disconnected")  # should the broker not have answered the DISCONNECT
        if self._misc is not None:
            self._misc.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._misc

    def abort(self) -> None:
        """Drop the connection at once, without DISCONNECT: the broker publishes the will.

        When it returns the connection is over: :meth:`wait_lost` is done, and what waited
        for an acknowledgement has failed with MqttError.
        """
        self._abort("connection aborted")

    def _abort(self, reason: str) -> None:
        sock = self._paho.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._close_socket()
        self._fail_all(reason)

    @property
    def is_connected(self) -> bool:
        return self._lost is not None and not self._lost.done()

    @property
    def in_flight(self) -> int:
        """QoS 1 and 2 messages sent and not yet acknowledged by the broker."""
        return len(self._answers.own) + self._paho._inflight_messages

    def wait_lost(self) -> asyncio.Future[str]:
        """A future done, with the reason, once the connection has ended: broken, aborted or
        disconnected. Await it, or wait for it with others (``asyncio.wait``) without a task;
        cancelling it leaves the connection alone. MqttError before connecting."""
        if self._lost is None:
            raise MqttError(f"{self.name}: not connected")
        return asyncio.shield(self._lost)

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
        if self._mqtt5:
            result, mid = self._paho.subscribe([(f, SubscribeOptions(qos=qos)) for f in filters])
        else:
            result, mid = self._paho.subscribe([(f, qos) for f in filters])
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
        """Publish; with QoS 1 this returns once the broker's PUBACK has arrived, with QoS 2
        its PUBCOMP (MqttError if it refused the message or the connection broke first)."""
        lost = self._lost
        if lost is None or lost.done():
            reason = "not connected" if lost is None else lost.result()
            raise MqttError(f"{self.name}: publish to {topic} failed: {reason}")
        info = self._paho.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:  # the hot path: no message made ahead
            self._check(info.rc, f"publish to {topic}")
        if qos > 0:
            await self._wait_for(info.mid, "publish to", topic)

    async def publish_all(self, messages: Sequence[tuple[str, bytes]], *, qos: int = 1) -> None:
        """Publish each ``(topic, payload)`` of ``messages`` in order, not retained; with
        QoS 1 or 2 this returns once the broker has them all (MqttError if it refused one
        or the connection broke first). Cheaper than one :meth:`publish` each: a single
        wait, under a single timeout, for the whole round.

        QoS 1 messages are written here, many in one system call, and their PUBACKs are
        taken here too: paho's bookkeeping (an object, a lock and a condition per message)
        was most of the cost of a round. Never more are in flight than ``max_in_flight``
        and the broker's Receive Maximum allow; a round larger than that goes out as the
        broker acknowledges. A round cut short (a timeout, a cancel, a lost connection)
        leaves what was sent to the broker, as a QoS 1 message always may."""
        if not messages:
            return
        lost = self._lost
        if lost is None or lost.done():
            reason = "not connected" if lost is None else lost.result()
            raise MqttError(f"{self.name}: publish failed: {reason}")
        if qos == 1:
            await self._publish_qos1(messages)
            return
        publish, mids = self._paho.publish, []
        for topic, payload in messages:
            info = publish(topic, payload, qos=qos, retain=False)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._check(info.rc, f"publish to {topic}")
            mids.append(info.mid)
        if qos > 0:
            await self._wait_for_all(mids, "publish")

    async def _publish_qos1(self, messages: Sequence[tuple[str, bytes]]) -> None:
        answers = self._answers
        expect, own = answers.expect, answers.own
        mqtt5 = self._mqtt5
        sent: list[int] = []
        waiters: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(self._timeout_s):
                first = 0
                while first < len(messages):
                    room = self._max_in_flight - len(own) - self._paho._inflight_messages
                    if room <= 0:
                        self._check_open("publish")
                        await answers.room()
                        continue
                    packets = bytearray()
                    for topic, payload in messages[first : first + room]:
                        mid = self._free_mid()
                        packets += publish_qos1(topic.encode(), payload, mid, mqtt5=mqtt5)
                        waiters.append(expect(mid))
                        own.add(mid)
                        sent.append(mid)
                    first += room
                    self._write_now(bytes(packets))
                await asyncio.gather(*waiters)
        except TimeoutError:
            waited = f"{self._timeout_s:g} s"
            raise MqttError(f"{self.name}: publish: no answer within {waited}") from None
        finally:
            answers.forget(sent)

    def _free_mid(self) -> int:
        """A message id in use by nothing in flight (paho's counter, shared with its own)."""
        busy, answers = self._paho._out_messages, self._answers
        while True:
            mid = self._paho._mid_generate()
            if mid not in answers and mid not in busy:
                return mid

    async def messages(self) -> AsyncIterator[Message]:
        """Messages on the subscribed filters, until the connection breaks (MqttError).

        RuntimeError for a client made with ``on_message``, which takes them instead."""
        if self._on_message_given is not None:
            raise RuntimeError(f"{self.name}: messages go to on_message")
        incoming = self._queue()
        lost = self._lost
        if lost is None:
            raise MqttError(f"{self.name}: not connected")
        while True:
            if not incoming.empty():
                yield incoming.get_nowait()
                continue
            if lost.done():
                raise MqttError(f"{self.name}: connection lost: {lost.result()}")
            getting = asyncio.ensure_future(incoming.get())
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

    def _check_open(self, what: str) -> None:
        """MqttError naming ``what`` if the connection has ended."""
        assert self._lost is not None
        if self._lost.done():
            raise MqttError(f"{self.name}: {what} failed: {self._lost.result()}")

    async def _wait_for(self, mid: int, action: str, topic: str | None = None) -> Any:
        """The broker's answer to ``mid``; MqttError naming ``action`` (on ``topic``) if
        none comes in time or the connection ends first."""
        what = action if topic is None else f"{action} {topic}"
        self._check_open(what)
        return await self._answers.one(mid, what)

    async def _wait_for_all(self, mids: Sequence[int], action: str) -> None:
        """The broker's answers to all of ``mids``, as :meth:`_wait_for` waits for one."""
        self._check_open(action)
        await self._answers.all(mids, action)

    def _fail_all(self, reason: str) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)
        if self._connected is not None and not self._connected.done():
            self._connected.set_exception(MqttError(f"{self.name}: {reason}"))
        self._answers.fail_all(reason)

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
        # the broker's Receive Maximum bounds what publish_all has in flight to it (paho
        # ignores it, and takes no new bound once connected: publish() keeps max_in_flight)
        broker_max = getattr(props, "ReceiveMaximum", _MQTT_MAX_IN_FLIGHT)
        self._max_in_flight = min(self._max_in_flight, broker_max)
        self._connected.set_result(None)

    def _on_disconnect(
        self, client: paho.Client, userdata: object, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self._fail_all(f"disconnected ({reason})")

    def _on_message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        received = Message(
            topic=message.topic,
            payload=bytes(message.payload),
            qos=message.qos,
            retain=bool(message.retain),
            dup=bool(message.dup),
            mid=message.mid,
        )
        self._hand_on(received)

    def _hand_on(self, received: Message) -> None:
        if self._on_message_given is None:
            self._queue().put_nowait(received)
            return
        try:
            self._on_message_given(received)
        except Exception:  # one bad message must not end the connection
            log.exception("%s: message on %r not handled", self.name, received.topic)

    def _queue(self) -> asyncio.Queue[Message]:
        if self._incoming is None:
            self._incoming = asyncio.Queue()
        return self._incoming

    def _on_publish(
        self, client: paho.Client, userdata: object, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        self._answers.settle(mid, error=f"publish refused: {reason}" if reason.is_failure else None)

    def _on_subscribe(
        self, client: paho.Client, userdata: object, mid: int, codes: list[ReasonCode], props: Any
    ) -> None:
        self._answers.settle(mid, codes)

    def _on_unsubscribe(
        self, client: paho.Client, userdata: object, mid: int, codes: Any, props: Any
    ) -> None:
        self._answers.settle(mid)
