"""Control messages: parsing, encoding, and what a bad one says."""

from __future__ import annotations

import json

import pytest

from simulators.faults import (
    ControlError,
    FaultCommand,
    GarbageCommand,
    SilenceCommand,
    encode_control,
    parse_control,
)


def test_parse_fault_command() -> None:
    message = b'{"action":"fault","device_id":"gate-01","fault":"motor_jammed","duration_s":5}'
    command = parse_control(message)
    assert command == FaultCommand(device_id="gate-01", fault="motor_jammed", duration_s=5)


def test_parse_garbage_command() -> None:
    assert parse_control(b'{"action":"garbage","device_id":"sos-01"}') == GarbageCommand(
        device_id="sos-01"
    )


def test_encode_round_trips() -> None:
    command = FaultCommand(device_id="light-a-01", fault="lamp_out", duration_s=12.5)
    assert parse_control(encode_control(command)) == command
    assert json.loads(encode_control(command))["action"] == "fault"


@pytest.mark.parametrize(
    "message",
    [
        b"not json",
        b"[]",
        b"\xff\xfe",
        b'{"action":"explode","device_id":"gate-01"}',
        b'{"device_id":"gate-01","fault":"motor_jammed"}',
        b'{"action":"fault","device_id":"gate-01"}',
        b'{"action":"fault","device_id":"gate-01","fault":"motor_jammed","duration_s":-1}',
        b'{"action":"fault","device_id":"gate-01","fault":"motor_jammed","duration_s":"NaN"}',
        b'{"action":"fault","device_id":"gate-01","fault":"motor_jammed","extra":1}',
    ],
)
def test_bad_control_messages_are_control_errors(message: bytes) -> None:
    with pytest.raises(ControlError, match="bad control message"):
        parse_control(message)


def test_parse_silence_command() -> None:
    message = b'{"action":"silence","device_id":"sos-02","duration_s":120}'
    assert parse_control(message) == SilenceCommand(device_id="sos-02", duration_s=120)
    assert parse_control(b'{"action":"silence","device_id":"sos-02"}').duration_s == 60
