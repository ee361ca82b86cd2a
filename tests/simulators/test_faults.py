"""Control messages and fault requests, without a broker."""

from __future__ import annotations

import json

import pytest

from device_profiles.catalogue import Catalogue
from simulators.community import Community
from simulators.device import UnknownDevice, UnknownFault
from simulators.faults import (
    ControlError,
    FaultCommand,
    GarbageCommand,
    InvalidDuration,
    SilenceCommand,
    encode_control,
    parse_control,
)
from simulators.simulator import Simulator, SimulatorConfig


@pytest.fixture
def simulator(catalogue: Catalogue) -> Simulator:
    return Simulator(Community.generate(catalogue, seed=1), SimulatorConfig())


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


def test_inject_unknown_device(simulator: Simulator) -> None:
    with pytest.raises(UnknownDevice):
        simulator.inject("gate-99", "motor_jammed", 5)


def test_inject_fault_of_another_profile(simulator: Simulator) -> None:
    with pytest.raises(UnknownFault, match="lamp_out"):
        simulator.inject("gate-01", "lamp_out", 5)


def test_inject_bad_duration(simulator: Simulator) -> None:
    with pytest.raises(InvalidDuration):
        simulator.inject("gate-01", "motor_jammed", 0)


def test_inject_sets_the_fault(simulator: Simulator) -> None:
    simulator.inject("gate-01", "motor_jammed", 5)
    assert simulator.fault_of("gate-01") == "motor_jammed"
    assert simulator.fault_of("gate-02") is None


def test_handle_control_dispatches_and_refuses(simulator: Simulator) -> None:
    simulator.handle_control(
        encode_control(FaultCommand(device_id="sos-02", fault="tampered", duration_s=3))
    )
    assert simulator.fault_of("sos-02") == "tampered"
    with pytest.raises(UnknownDevice):
        simulator.handle_control(encode_control(GarbageCommand(device_id="nope")))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="speed"):
        SimulatorConfig(speed=0)
    with pytest.raises(ValueError, match="fault_duration_s"):
        SimulatorConfig(fault_duration_s=(5, 1))


def test_parse_silence_command() -> None:
    message = b'{"action":"silence","device_id":"sos-02","duration_s":120}'
    assert parse_control(message) == SilenceCommand(device_id="sos-02", duration_s=120)
    assert parse_control(b'{"action":"silence","device_id":"sos-02"}').duration_s == 60


def test_silence_is_checked_and_recorded(simulator: Simulator) -> None:
    simulator.handle_control(encode_control(SilenceCommand(device_id="gate-01", duration_s=5)))
    assert simulator.is_silent("gate-01")
    assert not simulator.is_silent("gate-02")
    with pytest.raises(UnknownDevice):
        simulator.silence("gate-99", 5)
    with pytest.raises(InvalidDuration):
        simulator.silence("gate-02", 0)


def test_config_rejects_an_empty_window() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        SimulatorConfig(max_in_flight=0)
