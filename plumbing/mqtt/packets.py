"""MQTT packets cut from bytes as they were read: the framing :mod:`plumbing.mqtt` does
itself so that the common message costs no parsing by paho.

Pure functions on a buffer, no I/O: where a packet's body starts and ends, a QoS 0 or 1
PUBLISH without properties as a :class:`Message`, a QoS 1 PUBLISH's bytes, and a PUBACK's
bytes and meaning. Anything these do not take (properties, QoS 2, a topic alias, a
malformed packet) is left to paho.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

PUBLISH = 0x30
"""The packet type of PUBLISH, in the upper four bits of the first byte."""
PUBACK = 0x40
"""The packet type of PUBACK."""
_PUBACK = struct.Struct("!BBH")
_PUBLISH_QOS1 = 0x32
"""The first byte of a QoS 1 PUBLISH, neither retained nor sent again."""


class ProtocolError(Exception):
    """The bytes are not MQTT: a remaining length longer than four bytes."""


class Message(NamedTuple):
    """One message as it arrived; ``dup`` is set when the broker delivers it again. (A
    named tuple: one is made per message, and it is made fastest.)"""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    mid: int


def packet_body(buf: bytearray, pos: int, end: int) -> tuple[int, int] | None:
    """Where the body of the packet whose first byte is ``buf[pos]`` starts and ends
    (``(at, stop)``), or None while it has not all been read (``buf[:end]`` has)."""
    length = 0
    shift = 0
    at = pos + 1
    while True:  # the remaining length: 1 to 4 bytes, 7 bits each
        if at >= end:
            return None
        byte = buf[at]
        at += 1
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
        if shift > 21:
            raise ProtocolError("remaining length longer than 4 bytes")
    stop = at + length
    return None if stop > end else (at, stop)


def is_simple_publish(header: int) -> bool:
    """Whether the packet is a PUBLISH of QoS 0 or 1 (what :func:`publish_message` may
    take)."""
    return header & 0xF0 == PUBLISH and header & 0x06 != 0x04


def publish_message(
    header: int, buf: bytearray, at: int, stop: int, *, mqtt5: bool
) -> Message | None:
    """The QoS 0 or 1 PUBLISH with body ``buf[at:stop]`` as a :class:`Message`; None to
    leave it to paho (MQTT 5 properties, a topic alias, a topic that is not UTF-8, or a
    malformed packet)."""
    if stop - at < 2:
        return None
    end = at + 2 + ((buf[at] << 8) | buf[at + 1])  # after the topic
    if end == at + 2 or end > stop:
        return None  # no topic (an alias, in MQTT 5), or malformed
    qos = (header >> 1) & 0x03
    mid = 0
    body = end
    if qos:
        if end + 2 > stop:
            return None
        mid = (buf[end] << 8) | buf[end + 1]
        body += 2
    if mqtt5:
        if body >= stop or buf[body] != 0:
            return None  # properties, or malformed
        body += 1
    try:
        topic = buf[at + 2 : end].decode()
    except UnicodeDecodeError:
        return None
    return Message(
        topic=topic,
        payload=bytes(buf[body:stop]),
        qos=qos,
        retain=bool(header & 0x01),
        dup=bool(header & 0x08),
        mid=mid,
    )


def puback(mid: int) -> bytes:
    """The PUBACK of message ``mid`` (success, no reason code: the shortest form)."""
    return _PUBACK.pack(PUBACK, 2, mid)


def publish_qos1(topic: bytes, payload: bytes, mid: int, *, mqtt5: bool) -> bytes:
    """A QoS 1 PUBLISH of ``payload`` on ``topic`` (UTF-8) as message ``mid``, not retained,
    without properties."""
    head = len(topic).to_bytes(2, "big") + topic + mid.to_bytes(2, "big")
    if mqtt5:
        head += b"\x00"  # no properties
    length = len(head) + len(payload)
    size = bytearray()
    while True:  # the remaining length: 7 bits a byte, least significant first
        byte = length & 0x7F
        length >>= 7
        if not length:
            size.append(byte)
            break
        size.append(byte | 0x80)
    return bytes((_PUBLISH_QOS1,)) + size + head + payload


def puback_result(header: int, buf: bytearray, at: int, stop: int) -> tuple[int, int] | None:
    """``(mid, reason code)`` of a PUBACK with body ``buf[at:stop]`` (a missing reason code
    is success, 0); None if the packet is not a well-formed PUBACK."""
    if header != PUBACK or stop - at < 2:
        return None
    mid = (buf[at] << 8) | buf[at + 1]
    return mid, buf[at + 2] if stop - at > 2 else 0
