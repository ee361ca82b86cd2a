"""Which devices a scenario event targets, and checking a scenario against the simulated
community: every event that cannot run, with its line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from device_profiles.catalogue import Catalogue
from device_profiles.schema import Profile
from simulators.community import Community
from simulators.device import fault_examples
from simulators.scenario import ScenarioError, Target, check_against, load_scenario, select
from tests.simulators.conftest import parse_scenario as parse

SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "simulators" / "scenarios"


@dataclass(frozen=True)
class Dev:
    """A stand-in for a simulated device: what a scenario needs of one."""

    device_id: str
    profile: Profile
    zone: str | None = None


@pytest.fixture(scope="module")
def devices(catalogue: Catalogue) -> list[Dev]:
    gate = catalogue["acme_access_gate"]
    light = catalogue["brightway_street_light"]
    return [
        Dev("gate-01", gate, "zone-a"),
        Dev("gate-02", gate, "zone-b"),
        Dev("light-a-01", light, "zone-a"),
        Dev("light-a-02", light, "zone-a"),
        Dev("light-b-01", light, "zone-b"),
        Dev("pump-01", catalogue["aquaboost_water_pump"], "zone-a"),
        Dev("booster-01", catalogue["hydropro_water_pump"], "zone-b"),
        Dev("sos-01", catalogue["safecall_alarm_button"], None),
    ]


def ids(chosen: list[Dev]) -> list[str]:
    return [device.device_id for device in chosen]


# --- selecting and checking against devices ----------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (Target(device="light-a-02"), ["light-a-02"]),
        (Target(device="nope"), []),
        (Target(devices=("sos-01", "gate-01")), ["gate-01", "sos-01"]),
        (Target(zone="zone-b"), ["gate-02", "light-b-01", "booster-01"]),
        (Target(zone="zone-a", category="lighting"), ["light-a-01", "light-a-02"]),
        (Target(profile="acme_access_gate"), ["gate-01", "gate-02"]),
        (Target(type="water_pump"), ["pump-01", "booster-01"]),
        (Target(type="water_pump", category="lighting"), []),
        (
            Target(profile="brightway_street_light", category="lighting"),
            ["light-a-01", "light-a-02", "light-b-01"],
        ),
        (Target(gateway=True), []),
        (Target(), []),
    ],
)
def test_select(devices: list[Dev], target: Target, expected: list[str]) -> None:
    assert ids(select(target, devices)) == expected


@pytest.mark.usefixtures("in_tmp_path")
def test_check_against_accepts_what_can_run(devices: list[Dev]) -> None:
    scenario = parse(
        """\
        events:
          - {at: 1m, device: gate-01, fault: motor_jammed}
          - {at: 1m, type: water_pump, fault: pump_room_flooded}   # only the hydropro can
          - {at: 1m, zone: zone-a, fault: power_loss}
          - {at: 1m, devices: [pump-01, booster-01], fault: flapping, flap: low_pressure}
          - {at: 1m, device: sos-01, fault: garbage}
          - {at: 1m, gateway: true, fault: uplink_loss}
        """
    )
    check_against(scenario, devices)


@pytest.mark.usefixtures("in_tmp_path")
def test_check_against_lists_every_event_that_cannot_run(devices: list[Dev]) -> None:
    scenario = parse(
        """\
        events:
          - at: 1m
            device: gate-1
            fault: motor_jammed
          - at: 2m
            device: gate-01
            fault: lamp_out
          - at: 3m
            zone: zone-c
            fault: silent
          - at: 4m
            zone: zone-a
            category: alarm
            fault: silent
          - at: 5m
            devices: [light-a-01, gate-01]
            fault: lamp_out
          - at: 6m
            device: pump-01
            fault: flapping
            flap: pump_room_flooded
          - at: 7m
            type: street_light
            fault: offline
          - at: 0
            devices: [gate-01, nobody]
            fault: silent
          - at: 8m
            profile: no_such_profile
            fault: silent
        """
    )
    with pytest.raises(ScenarioError) as caught:
        check_against(scenario, devices)
    problems = str(caught.value).splitlines()
    assert [p.split(": ")[0:2] for p in problems] == [
        ["test.yaml:2", "events[0].device"],
        ["test.yaml:5", "events[1].fault"],
        ["test.yaml:8", "events[2].zone"],
        ["test.yaml:11", "events[3].zone"],
        ["test.yaml:15", "events[4].fault"],
        ["test.yaml:18", "events[5].flap"],
        ["test.yaml:22", "events[6].fault"],
        ["test.yaml:25", "events[7].devices"],
        ["test.yaml:28", "events[8].profile"],
    ]
    typo, lamp, zone_c, alarm, mixed, flap, offline, nobody, profile = problems
    assert "no simulated device 'nobody'" in nobody
    assert "did you mean 'gate-01'?" in typo
    assert "profile acme_access_gate has no fault 'lamp_out'" in lamp
    assert "it can show: motor_jammed" in lamp
    assert "zone 'zone-c'" in zone_c and "zone-a, zone-b" in zone_c
    assert "no alarm device in zone 'zone-a'" in alarm
    assert "device gate-01 cannot show 'lamp_out'" in mixed
    assert "pump_room_flooded" in flap
    assert "no example payload showing 'offline'" in offline
    assert "no_such_profile" in profile and "acme_access_gate" in profile


def test_the_profiles_have_a_fault_without_an_example(catalogue: Catalogue) -> None:
    """``offline`` above is declared but has no example payload (a device shows it by silence)."""
    light = catalogue["brightway_street_light"]
    assert "offline" in light.faults and "offline" not in fault_examples(light)


# --- the example scenarios ------------------------------------------------------------------


def test_example_scenarios_run_on_the_demo_community(catalogue: Catalogue) -> None:
    community = Community.generate(catalogue)
    devices = [Dev(d.device_id, d.profile, d.zone) for d in community]
    files = sorted(SCENARIOS_DIR.glob("*.yaml"))
    assert files
    for path in files:
        scenario = load_scenario(path)
        assert scenario.events or scenario.random, path
        check_against(scenario, devices)
