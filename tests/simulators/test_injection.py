"""Fault requests carried out on a community, without a broker: checked, then in force."""

from __future__ import annotations

import pytest

from device_profiles.catalogue import Catalogue
from simulators.community import Community
from simulators.device import UnknownDevice, UnknownFault
from simulators.faults import (
    FaultCommand,
    GarbageCommand,
    InvalidDuration,
    SilenceCommand,
    encode_control,
)
from simulators.injection import NoUplink
from simulators.scenario import ScenarioError
from simulators.simulator import Simulator, SimulatorConfig


@pytest.fixture
def simulator(catalogue: Catalogue) -> Simulator:
    return Simulator(Community.generate(catalogue, seed=1), SimulatorConfig())


def test_inject_unknown_device(simulator: Simulator) -> None:
    with pytest.raises(UnknownDevice):
        simulator.faults.inject("gate-99", "motor_jammed", 5)


def test_inject_fault_of_another_profile(simulator: Simulator) -> None:
    with pytest.raises(UnknownFault, match="lamp_out"):
        simulator.faults.inject("gate-01", "lamp_out", 5)


def test_inject_bad_duration(simulator: Simulator) -> None:
    with pytest.raises(InvalidDuration):
        simulator.faults.inject("gate-01", "motor_jammed", 0)


def test_inject_sets_the_fault(simulator: Simulator) -> None:
    simulator.faults.inject("gate-01", "motor_jammed", 5)
    assert simulator.faults.fault_of("gate-01") == "motor_jammed"
    assert simulator.faults.fault_of("gate-02") is None


def test_handle_control_dispatches_and_refuses(simulator: Simulator) -> None:
    simulator.faults.handle_control(
        encode_control(FaultCommand(device_id="sos-02", fault="tampered", duration_s=3))
    )
    assert simulator.faults.fault_of("sos-02") == "tampered"
    with pytest.raises(UnknownDevice):
        simulator.faults.handle_control(encode_control(GarbageCommand(device_id="nope")))


def test_silence_is_checked_and_recorded(simulator: Simulator) -> None:
    simulator.faults.handle_control(
        encode_control(SilenceCommand(device_id="gate-01", duration_s=5))
    )
    assert simulator.faults.is_silent("gate-01")
    assert not simulator.faults.is_silent("gate-02")
    with pytest.raises(UnknownDevice):
        simulator.faults.silence("gate-99", 5)
    with pytest.raises(InvalidDuration):
        simulator.faults.silence("gate-02", 0)


def test_an_event_is_checked_against_the_community(simulator: Simulator) -> None:
    event = simulator.faults.event_from(
        {"zone": "zone-a", "category": "lighting", "fault": "silent"}
    )
    assert event.target.zone == "zone-a"
    with pytest.raises(ScenarioError) as caught:
        simulator.faults.event_from({"device": "gate-99", "fault": "motor_jammed"})
    assert str(caught.value).startswith("control message: events[0].device: no simulated device")


def test_gateway_faults_need_the_uplink(simulator: Simulator) -> None:
    with pytest.raises(NoUplink, match="--uplink-port"):
        simulator.faults.cut_uplink(60)
    with pytest.raises(NoUplink, match="gateway_power_loss"):
        simulator.faults.gateway_power_loss(60)
    assert not simulator.faults.is_silent("gate-01")
