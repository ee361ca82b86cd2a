"""Fault scenarios: durations, parsing, errors with file and line, selection, random faults."""

from __future__ import annotations

import json
import math
import random
import statistics
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device_profiles.catalogue import Catalogue
from device_profiles.schema import Profile
from simulators.community import Community
from simulators.device import fault_examples
from simulators.faults import DEFAULT_FAULT_DURATION_S, MAX_FAULT_DURATION_S, RANDOM_DURATION_S
from simulators.scenario import (
    DEFAULT_FLAP_PERIOD_S,
    DEFAULT_GARBAGE_COUNT,
    DEVICE_FAULTS,
    FLAPPING,
    GARBAGE,
    GATEWAY_POWER_LOSS,
    POWER_LOSS,
    SILENT,
    SPECIAL_KINDS,
    UPLINK_LOSS,
    RandomFaults,
    Scenario,
    ScenarioError,
    ScriptedFault,
    Target,
    check_against,
    format_duration,
    parse_duration,
    select,
)

SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "simulators" / "scenarios"


@dataclass(frozen=True)
class Dev:
    """A stand-in for a simulated device: what a scenario needs of one."""

    device_id: str
    profile: Profile
    zone: str | None = None


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load()


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


def parse(text: str, source: str = "test.yaml") -> Scenario:
    return Scenario.parse(textwrap.dedent(text), source)


def issues(text: str) -> list[str]:
    """The lines of the ScenarioError that parsing ``text`` (as test.yaml) raises."""
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.issues)
    return lines


def ids(chosen: list[Dev]) -> list[str]:
    return [device.device_id for device in chosen]


# --- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (2.5, 2.5),
        (0, 0.0),
        ("90", 90.0),
        ("0", 0.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("2d", 172800.0),
        ("1d2h3m4s", 93784.0),
        (" 1h 30m ", 5400.0),
        ("1e3", 1000.0),
    ],
)
def test_durations_parse(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a duration"),
        ("5x", "not a duration"),
        ("5 minutes", "not a duration"),
        ("30m1h", "largest first"),
        ("1h30", "not a duration"),
        ("m", "not a duration"),
        ("-5m", "must not be negative"),
        (-1, "must not be negative"),
        ("inf", "not a duration"),
        (math.inf, "finite"),
        (math.nan, "finite"),
        ("1e999", "finite"),
        (10**400, "finite"),
        (True, "number of seconds or text"),
    ],
)
def test_bad_durations_say_why(text: str | int | float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(MAX_FAULT_DURATION_S) == "7d"
    assert format_duration(5400) == "1h30m"
    assert format_duration(0) == "0s"
    assert format_duration(1.5) == "1.5s"


# --- parsing ----------------------------------------------------------------------------


def test_events_are_sorted_by_time_stably() -> None:
    scenario = parse(
        """\
        name: Order
        events:
          - {at: 10m, device: b, fault: silent}
          - {at: 1m, device: a, fault: silent}
          - {at: 10m, device: c, fault: silent}
          - {at: 600, device: d, fault: silent}
          - {at: 0, device: e, fault: silent}
        """
    )
    assert scenario.name == "Order"
    assert scenario.source == "test.yaml"
    assert [e.target.device for e in scenario.events] == ["e", "a", "b", "c", "d"]
    assert [e.at_s for e in scenario.events] == [0, 60, 600, 600, 600]
    assert [e.line for e in scenario.events] == [7, 4, 3, 5, 6]
    assert [e.index for e in scenario.events] == [4, 1, 0, 2, 3]
    assert scenario.random is None


def test_every_kind_parses_with_its_options() -> None:
    scenario = parse(
        """\
        events:
          - at: 2m
            device: gate-01
            fault: motor_jammed
            for: 10m
          - at: 3m
            zone: zone-a
            category: lighting
            fault: power_loss
            for: 15m
          - at: 4m
            device: sos-03
            fault: silent
          - at: 5m
            device: pump-01
            fault: flapping
            flap: low_pressure
            period: 30s
            for: 10m
          - at: 6m
            gateway: true
            fault: uplink_loss
            for: 5m
          - at: 7m
            gateway: true
            fault: gateway_power_loss
          - at: 8m
            devices: [light-a-01, light-a-02]
            fault: garbage
            count: 20
            for: 1m
          - at: 9m
            profile: brightway_street_light
            fault: garbage
          - at: 10m
            type: water_pump
            category: water
            fault: flapping
            flap: low_pressure
        """
    )
    jam, zone, silent, flap, uplink, power, burst, garbage, pumps = scenario.events
    assert jam == ScriptedFault(120, Target(device="gate-01"), "motor_jammed", 600, line=2, index=0)
    assert zone.target == Target(zone="zone-a", category="lighting")
    assert (zone.fault, zone.duration_s) == (POWER_LOSS, 900)
    assert (silent.fault, silent.duration_s) == (SILENT, DEFAULT_FAULT_DURATION_S)
    assert (flap.fault, flap.flap, flap.period_s, flap.duration_s) == (
        FLAPPING,
        "low_pressure",
        30,
        600,
    )
    assert uplink.target == Target(gateway=True) and uplink.fault == UPLINK_LOSS
    assert (power.fault, power.duration_s) == (GATEWAY_POWER_LOSS, DEFAULT_FAULT_DURATION_S)
    assert burst.target.devices == ("light-a-01", "light-a-02")
    assert (burst.fault, burst.count, burst.duration_s) == (GARBAGE, 20, 60)
    assert (garbage.count, garbage.duration_s) == (DEFAULT_GARBAGE_COUNT, 0)
    assert garbage.target == Target(profile="brightway_street_light")
    assert pumps.target == Target(type="water_pump", category="water")
    assert pumps.period_s == DEFAULT_FLAP_PERIOD_S
    assert {e.fault for e in scenario.events} >= SPECIAL_KINDS


def test_random_faults_parse_with_defaults() -> None:
    full = parse("random: {mtbf: 30d, duration: [10m, 2h], kinds: [device_faults, silent]}")
    assert full.random == RandomFaults(30 * 86400, (600, 7200), (DEVICE_FAULTS, SILENT))
    assert full.events == ()
    bare = parse("random:\n  mtbf: 1h\n")
    assert bare.random == RandomFaults(3600, RANDOM_DURATION_S, (DEVICE_FAULTS,))


def test_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "quiet_night.yaml"
    path.write_text("events:\n  - {at: 1m, device: sos-01, fault: silent}\n")
    scenario = Scenario.load(path)
    assert (scenario.name, scenario.source) == ("quiet_night", str(path))
    assert Scenario.parse("random: {mtbf: 1d}").name == "<scenario>"


# --- errors -----------------------------------------------------------------------------

EVENT = "events:\n  - at: 1m\n"  # the event starts on line 2; its next key is on line 3


@pytest.mark.parametrize(
    ("body", "line", "field", "message"),
    [
        ("    device: gate-01\n    fault: uplink_loss\n", 4, "events[0].fault", "gateway fault"),
        ("    gateway: true\n    fault: motor_jammed\n", 4, "events[0].fault", "the gateway can"),
        ("    gateway: true\n    fault: silent\n", 4, "events[0].fault", "the gateway can"),
        ("    gateway: false\n    fault: silent\n", 3, "events[0].gateway", "must be true"),
        ("    device: pump-01\n    fault: flapping\n", 2, "events[0].flap", "required"),
        (
            "    device: pump-01\n    fault: flapping\n    flap: silent\n",
            5,
            "events[0].flap",
            "fault of the device's profile",
        ),
        (
            "    device: a\n    fault: flapping\n    flap: x\n    period: 2m\n    for: 2m\n",
            6,
            "events[0].period",
            "shorter than for",
        ),
        ("    device: a\n    fault: silent\n    flap: x\n", 5, "events[0].flap", "only with"),
        ("    device: a\n    fault: silent\n    count: 3\n", 5, "events[0].count", "only with"),
        ("    device: a\n    fault: garbage\n    count: 0\n", 5, "events[0].count", "1 to"),
        ("    device: a\n    zone: zone-a\n    fault: silent\n", 4, "events[0].zone", "one target"),
        ("    zone: z\n    gateway: true\n    fault: uplink_loss\n", 4, "events[0].gateway", "one"),
        ("    fault: silent\n", 2, "events[0]", "no target"),
        ("    device: a\n", 2, "events[0].fault", "required"),
        ("    device: a\n    fault: silent\n    catgory: x\n", 5, "events[0].catgory", "category?"),
        ("    device: a\n    fault: silent\n    category: x\n", 5, "events[0].category", "narrows"),
        ("    device: a\n    fault: Motor Jammed\n", 4, "events[0].fault", "fault name"),
        ("    device: 7\n    fault: silent\n", 3, "events[0].device", "must be text"),
        ("    devices: gate-01\n    fault: silent\n", 3, "events[0].devices", "must be a list"),
        ("    devices: []\n    fault: silent\n", 3, "events[0].devices", "at least one"),
        ("    devices: [a, a]\n    fault: silent\n", 3, "events[0].devices[1]", "twice"),
        ("    device: a\n    fault: silent\n    for: 8d\n", 5, "events[0].for", "at most 7d"),
        ("    device: a\n    fault: silent\n    for: 0\n", 5, "events[0].for", "longer than 0"),
        ("    device: a\n    fault: silent\n    for:\n", 5, "events[0].for", "empty"),
        ("    device: a\n    fault: silent\n    for: soon\n", 5, "events[0].for", "not a dur"),
    ],
)
def test_bad_events_name_file_line_and_field(
    body: str, line: int, field: str, message: str
) -> None:
    (problem,) = issues(EVENT + body)
    assert problem.startswith(f"test.yaml:{line}: {field}: "), problem
    assert message in problem


def test_negative_at() -> None:
    (problem,) = issues(
        """\
        events:
          - at: 1m
            device: a
            fault: silent
          - device: b
            at: -5m
            fault: silent
        """
    )
    assert problem.startswith("test.yaml:6: events[1].at: ")
    assert "negative" in problem


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("random: {mtbf: 0}", 1, "random.mtbf", "longer than 0"),
        ("random:\n  duration: [1m, 2m]\n", 1, "random.mtbf", "required"),
        ("random:\n  mtbf: 1d\n  duration: [2h, 1m]\n", 3, "random.duration", "[shortest, long"),
        ("random:\n  mtbf: 1d\n  duration: [1m]\n", 3, "random.duration[1]", "two durations"),
        ("random:\n  mtbf: 1d\n  duration: 5m\n", 3, "random.duration", "two durations"),
        ("random:\n  mtbf: 1d\n  duration: [1m, 8d]\n", 3, "random.duration[1]", "at most 7d"),
        ("random:\n  mtbf: 1d\n  kinds:\n    - silent\n    - boom\n", 5, "random.kinds[1]", "boom"),
        ("random:\n  mtbf: 1d\n  kinds: [garbage]\n", 3, "random.kinds[0]", "unknown kind"),
        ("random:\n  mtbf: 1d\n  mbtf: 2d\n", 3, "random.mbtf", "did you mean mtbf?"),
        ("random: [1d]\n", 1, "random", "must be a mapping"),
        ("events: {at: 1m}\n", 1, "events", "must be a list"),
        ("events:\n  - 5\n", 2, "events[0]", "must be a mapping"),
        ("name: x\nevnts: []\n", 2, "evnts", "did you mean events?"),
        ("name: [x]\nrandom: {mtbf: 1d}\n", 1, "name", "must be text"),
    ],
)
def test_bad_files_name_line_and_field(text: str, line: int, field: str, message: str) -> None:
    (problem,) = issues(text)
    assert problem.startswith(f"test.yaml:{line}: {field}: "), problem
    assert message in problem


def test_every_problem_is_listed_in_order_of_line() -> None:
    problems = issues(
        """\
        events:
          - at: -1m
            device: a
            zone: b
            fault: silent
            for: 9d
          - at: 1m
            device: a
            fault: uplink_loss
        random:
          mtbf: 1d
          kinds: [boom]
          extra: 1
        """
    )
    assert [p.split(": ")[0:2] for p in problems] == [
        ["test.yaml:2", "events[0].at"],
        ["test.yaml:4", "events[0].zone"],
        ["test.yaml:6", "events[0].for"],
        ["test.yaml:9", "events[1].fault"],
        ["test.yaml:12", "random.kinds[0]"],
        ["test.yaml:13", "random.extra"],
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("events:\n  - at: 1m\n    device: [a\n", 4, "YAML:"),
        ("events:\n  - at: 1m\n    at: 2m\n", 3, "duplicate key"),
        ("name: x\n\tevents: []\n", 2, "YAML:"),
        ("", 1, "empty file"),
        ("- at: 1m\n", 1, "must be a YAML mapping"),
        ("just text", 1, "must be a YAML mapping"),
        ("events: []\n", 1, "nothing to do"),
    ],
)
def test_bad_yaml_is_a_scenario_error_with_a_line(text: str, line: int, message: str) -> None:
    (problem,) = issues(text)
    assert problem.startswith(f"test.yaml:{line}: "), problem
    assert message in problem


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        Scenario.load(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioError, match="cannot read"):
        Scenario.load(tmp_path)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"name: x\nevents: \xff\n")
    with pytest.raises(ScenarioError, match=r"binary.yaml:2: not UTF-8"):
        Scenario.load(binary)


_KEYS = ["at", "device", "devices", "zone", "fault", "for", "flap", "period", "count", "gateway"]
_LEAVES = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats() | st.text(max_size=8)
_VALUES = st.recursive(
    _LEAVES | st.sampled_from(["1m", "-1m", "silent", "flapping", "garbage", "uplink_loss"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=6), max_size=3),
    extra=st.dictionaries(st.sampled_from(["name", "random", "events", "x"]), _VALUES, max_size=2),
)
def test_any_document_parses_or_fails_with_a_scenario_error(
    events: list[dict[str, object]], extra: dict[str, object]
) -> None:
    document = {"events": events, **extra}
    try:
        text = json.dumps(document, allow_nan=False)  # JSON is YAML
    except ValueError:
        return
    try:
        Scenario.parse(text)
    except ScenarioError as exc:
        assert exc.issues
        assert all(str(issue).startswith("<scenario>") for issue in exc.issues)


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


def test_describe() -> None:
    assert Target(device="gate-01").describe() == "device gate-01"
    assert Target(devices=("a", "b")).describe() == "devices a, b"
    assert (
        Target(zone="zone-a", category="lighting").describe() == "lighting devices in zone zone-a"
    )
    assert Target(type="water_pump").describe() == "devices of type water_pump"
    assert Target(profile="p").describe() == "devices of profile p"
    assert Target(gateway=True).describe() == "the gateway"


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


# --- random faults ------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 10, 200])
def test_next_delay_has_mean_mtbf_over_devices(count: int) -> None:
    faults = RandomFaults(mtbf_s=30 * 86400)
    rng = random.Random(7)
    draws = [faults.next_delay(rng, count) for _ in range(20_000)]
    expected = faults.mtbf_s / count
    # the mean of 20000 exponential draws has a standard error of 0.7% of the mean
    assert statistics.fmean(draws) == pytest.approx(expected, rel=0.03)
    assert statistics.median(draws) == pytest.approx(expected * math.log(2), rel=0.05)
    assert min(draws) >= 0


def test_next_delay_without_devices_is_never() -> None:
    assert RandomFaults(3600).next_delay(random.Random(1), 0) == math.inf


def test_next_delay_is_reproducible() -> None:
    faults = RandomFaults(3600)
    first = [faults.next_delay(random.Random(3), 5) for _ in range(3)]
    assert first == [faults.next_delay(random.Random(3), 5) for _ in range(3)]


@pytest.mark.parametrize(
    ("mtbf", "duration", "kinds"),
    [
        (0, (1, 2), (DEVICE_FAULTS,)),
        (math.inf, (1, 2), (DEVICE_FAULTS,)),
        (3600, (2, 1), (DEVICE_FAULTS,)),
        (3600, (0, 1), (DEVICE_FAULTS,)),
        (3600, (1, MAX_FAULT_DURATION_S + 1), (DEVICE_FAULTS,)),
        (3600, (1, 2), ()),
        (3600, (1, 2), (GARBAGE,)),
    ],
)
def test_random_faults_refuse_nonsense(
    mtbf: float, duration: tuple[float, float], kinds: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        RandomFaults(mtbf, duration, kinds)


# --- the example scenarios ------------------------------------------------------------------


def test_example_scenarios_run_on_the_demo_community(catalogue: Catalogue) -> None:
    community = Community.generate(catalogue)
    devices = [Dev(d.device_id, d.profile, d.zone) for d in community]
    files = sorted(SCENARIOS_DIR.glob("*.yaml"))
    assert files
    for path in files:
        scenario = Scenario.load(path)
        assert scenario.events or scenario.random, path
        check_against(scenario, devices)
