"""How a :class:`plumbing.mqtt.Client` drives its socket from the asyncio event loop.

paho reads a packet a few bytes per system call and parses every PUBLISH into objects of
its own; at thousands of messages a second that was most of a receiver's time. So the
socket is read here, up to :data:`READ_BYTES` at once, and the packets are cut out of that
buffer (:mod:`plumbing.mqtt.packets`): a QoS 0 or 1 PUBLISH without properties becomes a
:class:`~plumbing.mqtt.packets.Message` here, as does the broker's PUBACK of a message
:meth:`~plumbing.mqtt.Client.publish_all` sent; every other packet (CONNACK, PINGRESP, QoS
2, a PUBLISH with properties, acknowledgements of paho's own publishes) is handed whole to
paho's handling. Writes go out in one system call where the socket takes them, after
whatever paho has queued (:meth:`SocketDriver._write_now`). The client's public calls that
are only about the socket live here too: reading paused and resumed (flow control for a
receiver that must bound what it holds) and acknowledging a message after the fact
(:meth:`SocketDriver.ack`, the PUBACKs of one pass in one write).

:class:`SocketDriver` is the part of :class:`~plumbing.mqtt.Client` that does this: an
abstract base class holding no state of its own (the client provides the state and the four
methods it calls), kept apart so that the client's operations read on their own.

The socket callbacks come from the event loop's thread, except while connecting, when they
come from the worker thread that connects: those are handed to the loop. A socket already
closed (fileno -1) is one the client closed itself (abort, a failed connect) and
stopped watching: paho may still report it, from wherever it is garbage-collected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.exception import MalformedPacket

from plumbing.mqtt.answers import Answers
from plumbing.mqtt.packets import (
    PUBACK,
    Message,
    ProtocolError,
    is_simple_publish,
    packet_body,
    puback,
    puback_result,
    publish_message,
)

log = logging.getLogger("plumbing.mqtt")

READ_BYTES = 256 * 1024
"""What one read of the socket takes at most."""
PASS_PACKETS = 100
"""Packets handed on at most before the event loop gets to run its other callbacks (what
one read brings may be thousands): a receiver that hands work to other tasks or threads
hears back from them meanwhile."""


class SocketDriver(ABC):
    """The socket side of a client: reading, cutting packets, writing (see the module)."""

    # the client's state this part uses (made in Client.__init__ and __aenter__)
    name: str
    _paho: paho.Client
    _loop: asyncio.AbstractEventLoop | None
    _loop_thread: int
    _lost: asyncio.Future[str] | None
    _sock: int | None
    _reading: bool
    _inbox: bytearray
    _acks: bytearray
    _acks_due: bool
    _more: bool
    _pass_due: bool
    _mqtt5: bool
    _manual_ack: bool
    _answers: Answers

    @abstractmethod
    def _hand_on(self, received: Message) -> None:
        """A message received (the client's)."""

    @abstractmethod
    def _abort(self, reason: str) -> None:
        """End the connection at once (the client's)."""

    @abstractmethod
    def _fail_all(self, reason: str) -> None:
        """Fail whatever waits on the connection (the client's)."""

    @abstractmethod
    def _close_socket(self) -> None:
        """Close the socket, not watching it any more (the client's)."""

    def _in_loop(self, action: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            action(*args)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(action, *args)

    def _on_socket_open(self, client: paho.Client, userdata: object, sock: Any) -> None:
        self._in_loop(self._watch_socket, sock.fileno())

    def _watch_socket(self, fileno: int) -> None:
        assert self._loop is not None
        current = self._paho.socket()
        if fileno < 0 or current is None or current.fileno() != fileno:
            return  # closed (and its number maybe reused) before the loop got to it
        if self._lost is not None and self._lost.done():
            self._close_socket()  # connected after __aenter__ gave up waiting: not wanted
            return
        self._sock = fileno
        if self._reading:
            self._loop.add_reader(fileno, self._read)

    def _read(self) -> None:
        sock = self._paho.socket()
        if sock is None:
            return
        if not self._more:  # else what was read already comes first
            try:
                data = sock.recv(READ_BYTES)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return  # nothing to read yet (over TLS: only part of a record came)
            except OSError as exc:  # a broken connection: said as paho says it
                log.debug("%s: read failed: %s", self.name, exc)
                data = b""
            if not data:
                self._paho._loop_rc_handle(MQTTErrorCode.MQTT_ERR_CONN_LOST)
                return
            self._paho._last_bytes_received = paho.time_func()
            self._inbox += data
        self._drain()

    def _drain(self) -> None:
        """Hand on the whole packets read, up to :data:`PASS_PACKETS` (the rest in the
        next pass of the event loop), until paused or the connection ends."""
        self._pass_due = False
        try:
            self._more = self._cut_packets()
        except Exception as exc:  # paho did not handle it: end the connection, not the loop
            log.debug("%s: read failed", self.name, exc_info=True)
            self._abort(f"read failed: {exc}")
            self._more = False
        self._flush_acks()
        if self._more and self._reading:
            self._next_pass()
        elif self._reading and self._loop is not None:
            sock = self._paho.socket()
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                # TLS decrypted more than it handed out: the socket will not say it is
                # readable again for it
                self._loop.call_soon(self._read)

    def _next_pass(self) -> None:
        if not self._pass_due and self._loop is not None:
            self._pass_due = True
            self._loop.call_soon(self._drain)

    def _cut_packets(self) -> bool:
        """Hand on whole packets; True if some are left for the next pass (or for when
        reading resumes)."""
        buf = self._inbox
        end = len(buf)
        pos = 0
        lost = self._lost
        answers = self._answers
        own = answers.own
        budget = PASS_PACKETS
        try:
            while pos < end:
                if lost is None or lost.done():
                    return False
                if not budget or not self._reading:
                    return True  # the next pass, or once reading again
                budget -= 1
                header = buf[pos]
                try:
                    bounds = packet_body(buf, pos, end)
                except ProtocolError:
                    self._paho._loop_rc_handle(MQTTErrorCode.MQTT_ERR_PROTOCOL)
                    return False
                if bounds is None:
                    return False  # the rest is still on its way
                at, stop = bounds
                pos = stop
                if is_simple_publish(header):
                    received = publish_message(header, buf, at, stop, mqtt5=self._mqtt5)
                    if received is not None:
                        self._hand_on(received)
                        if received.qos and not self._manual_ack:
                            self._acks += puback(received.mid)
                        continue
                elif (
                    own
                    and (answer := puback_result(header, buf, at, stop)) is not None
                    and answer[0] in own
                ):
                    answers.acknowledged(*answer)
                    continue
                self._flush_acks()
                self._paho_handles(header, buf[at:stop])
            return False
        finally:
            del buf[:pos]

    def _paho_handles(self, header: int, body: bytearray) -> None:
        """Let paho handle one packet, as if it had read it."""
        client = self._paho
        client._in_packet = {
            "command": header,
            "have_remaining": 1,
            "remaining_count": [],
            "remaining_mult": 1,
            "remaining_length": len(body),
            "packet": body,
            "to_process": 0,
            "pos": 0,
        }
        try:
            rc = client._packet_handle()
        except MalformedPacket as exc:
            log.debug("%s: malformed packet: %s", self.name, exc)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        finally:
            client._in_packet = {
                "command": 0,
                "have_remaining": 0,
                "remaining_count": [],
                "remaining_mult": 1,
                "remaining_length": 0,
                "packet": bytearray(),
                "to_process": 0,
                "pos": 0,
            }
        if rc > 0:
            client._loop_rc_handle(rc)

    def pause_reading(self) -> None:
        """Read nothing more from the broker until :meth:`resume_reading`: what it sends
        waits in the network's buffers, and then in the broker (TCP's flow control). For a
        receiver that must bound what it holds even when a broker sends more than Receive
        Maximum allows (Mosquitto 2.0 does, once acknowledgements flow). Keep pauses short
        of the keep-alive: PINGRESPs are not read meanwhile."""
        self._reading = False
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock)

    def resume_reading(self) -> None:
        """Read from the broker again after :meth:`pause_reading`."""
        if self._reading:
            return
        self._reading = True
        if self._sock is not None and self._loop is not None:
            self._loop.add_reader(self._sock, self._read)
            if self._more:  # packets read before the pause, not yet handed on
                self._next_pass()
            else:  # over TLS, data decrypted before the pause waits in the SSL object
                self._loop.call_soon(self._read)

    def ack(self, message: Message) -> None:
        """Acknowledge ``message`` to the broker (``manual_ack`` only; a no-op for QoS 0).

        Not acknowledging keeps it the broker's: it is delivered again after a reconnect.
        The acknowledgements of one pass of the event loop go out in one write.
        """
        lost = self._lost
        if not (self._manual_ack and message.qos > 0 and lost is not None and not lost.done()):
            return
        if message.qos == 2:
            self._flush_acks()  # in order with those of QoS 1
            self._paho.ack(message.mid, message.qos)
            return
        self._acks += puback(message.mid)
        if not self._acks_due:
            assert self._loop is not None
            self._acks_due = True
            self._loop.call_soon(self._flush_acks)

    def _flush_acks(self) -> None:
        """Write the PUBACKs waiting, in one system call if the socket takes them."""
        self._acks_due = False
        if not self._acks:
            return
        data = bytes(self._acks)
        self._acks.clear()
        self._write_now(data)

    def _write_now(self, data: bytes) -> None:
        """Write ``data`` (whole packets) in one system call if the socket takes it, after
        whatever paho has queued; what is left goes to paho's queue."""
        client = self._paho
        sock = client.socket()
        if sock is None or self._lost is None or self._lost.done():
            return  # not sent: PUBACKs come again, publishes fail with the connection
        if not client._out_packet:  # nothing of paho's half-written: ours may go first
            try:
                sent = sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # paho's write finds the connection broken
            if sent:
                client._last_msg_out = paho.time_func()
            data = data[sent:]
            if not data:
                return
        client._packet_queue(PUBACK, data, 0, 0)  # paho writes it as it is (PUBACK: no callback)

    def _write(self) -> None:
        try:
            self._paho.loop_write()
        except Exception as exc:
            log.debug("%s: write failed", self.name, exc_info=True)
            self._abort(f"write failed: {exc}")

    def _on_socket_close(self, client: paho.Client, userdata: object, sock: Any) -> None:
        fileno = sock.fileno()
        if fileno < 0:
            return
        self._in_loop(self._unwatch_socket, fileno)
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
        fileno = sock.fileno()
        if fileno >= 0:
            self._in_loop(self._want_write, fileno, True)

    def _on_socket_unregister_write(self, client: paho.Client, userdata: object, sock: Any) -> None:
        fileno = sock.fileno()
        if fileno >= 0:
            self._in_loop(self._want_write, fileno, False)

    def _want_write(self, fileno: int, wanted: bool) -> None:
        assert self._loop is not None
        if fileno < 0 or fileno != self._sock:
            return
        if wanted:
            self._loop.add_writer(fileno, self._write)
        else:
            self._loop.remove_writer(fileno)
