"""Packets cut from bytes: what plumbing.mqtt takes itself and what it leaves to paho."""

from __future__ import annotations

import pytest

from plumbing.mqtt.packets import (
    Message,
    ProtocolError,
    is_simple_publish,
    packet_body,
    puback,
    publish_message,
)


def remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(
    topic: bytes, payload: bytes, *, qos: int = 1, mid: int = 7, props: bytes | None = b"\x00"
) -> bytearray:
    """A PUBLISH packet; ``props`` None for MQTT 3.1.1 (no properties field)."""
    body = len(topic).to_bytes(2, "big") + topic
    if qos:
        body += mid.to_bytes(2, "big")
    if props is not None:
        body += props
    body += payload
    return bytearray([0x30 | (qos << 1)]) + remaining_length(len(body)) + body


def take(buf: bytearray, *, mqtt5: bool = True) -> Message | None:
    bounds = packet_body(buf, 0, len(buf))
    assert bounds is not None
    return publish_message(buf[0], buf, *bounds, mqtt5=mqtt5)


def test_a_qos_1_publish_becomes_a_message() -> None:
    message = take(publish(b"acme/gate/g1/state", b'{"door":0}', mid=513))
    assert message == Message("acme/gate/g1/state", b'{"door":0}', 1, False, False, 513)


def test_mqtt_3_publish_has_no_properties_field() -> None:
    message = take(publish(b"a/b", b"x", qos=0, props=None), mqtt5=False)
    assert message == Message("a/b", b"x", 0, False, False, 0)


def test_retain_and_dup_flags_are_read() -> None:
    buf = publish(b"a/b", b"x")
    buf[0] |= 0x08 | 0x01
    message = take(buf)
    assert message is not None and message.dup and message.retain


def test_a_body_longer_than_127_bytes_has_a_two_byte_length() -> None:
    payload = b"y" * 20_000
    buf = publish(b"t", payload)
    message = take(buf)
    assert message is not None and message.payload == payload


def test_an_incomplete_packet_waits_for_the_rest() -> None:
    buf = publish(b"a/b", b"x" * 300)
    assert packet_body(buf, 0, 1) is None  # not even the length
    assert packet_body(buf, 0, 2) is None  # the length's first byte only
    assert packet_body(buf, 0, len(buf) - 1) is None


def test_two_packets_in_one_buffer_are_cut_apart() -> None:
    first, second = publish(b"a", b"1", mid=1), publish(b"b", b"22", mid=2)
    buf = first + second
    _, stop = packet_body(buf, 0, len(buf)) or (0, 0)
    assert stop == len(first)
    bounds = packet_body(buf, stop, len(buf))
    assert bounds is not None
    assert publish_message(buf[stop], buf, *bounds, mqtt5=True) == Message(
        "b", b"22", 1, False, False, 2
    )


def test_a_length_over_four_bytes_is_not_mqtt() -> None:
    with pytest.raises(ProtocolError):
        packet_body(bytearray([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]), 0, 6)


@pytest.mark.parametrize(
    "buf",
    [
        publish(b"a/b", b"x", props=b"\x03\x01\x01"),  # properties: paho parses them
        publish(b"", b"x"),  # no topic: a topic alias
        publish(b"\xff\xfe", b"x"),  # a topic that is not UTF-8
        bytearray([0x32, 0x01, 0x00]),  # cut short
    ],
    ids=["properties", "alias", "not-utf8", "malformed"],
)
def test_what_is_not_plain_is_left_to_paho(buf: bytearray) -> None:
    assert take(buf) is None


def test_qos_2_and_other_packets_are_not_taken() -> None:
    assert is_simple_publish(0x30) and is_simple_publish(0x32)
    assert not is_simple_publish(0x34)  # QoS 2
    assert not is_simple_publish(0x40)  # PUBACK
    assert not is_simple_publish(0xD0)  # PINGRESP


def test_puback_is_the_short_form() -> None:
    assert puback(0x0102) == b"\x40\x02\x01\x02"
