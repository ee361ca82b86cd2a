"""Reading scenarios: every kind and its options, and every problem named by file, line and
field (from a file), or by source and field (from values, as a control message gives)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulators.faults import DEFAULT_FAULT_DURATION_S, RANDOM_DURATION_S
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
    event_from,
    load_scenario,
    scenario_from,
)
from tests.simulators.conftest import parse_scenario as parse

pytestmark = pytest.mark.usefixtures("in_tmp_path")


def issues(text: str) -> list[str]:
    """The lines of the ScenarioError that loading ``text`` (as test.yaml) raises."""
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.issues)
    return lines


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
    scenario = load_scenario(path)
    assert (scenario.name, scenario.source) == ("quiet_night", str(path))
    assert scenario_from({"random": {"mtbf": "1d"}}).name == "<scenario>"


def test_values_parse_as_a_file_does() -> None:
    text = "events:\n  - {at: 2m, device: gate-01, fault: motor_jammed, for: 10m}\n"
    from_file = parse(text)
    from_values = scenario_from(
        {"events": [{"at": "2m", "device": "gate-01", "fault": "motor_jammed", "for": "10m"}]},
        "control message",
    )
    assert from_values.source == "control message"
    assert from_values.events == tuple(
        ScriptedFault(e.at_s, e.target, e.fault, e.duration_s, 0, index=e.index)
        for e in from_file.events
    )


def test_an_event_from_values_is_due_now_and_says_its_source() -> None:
    event = event_from({"zone": "zone-a", "category": "lighting", "fault": "power_loss"}, "req")
    assert (event.at_s, event.target, event.fault) == (
        0,
        Target(zone="zone-a", category="lighting"),
        POWER_LOSS,
    )
    with pytest.raises(ScenarioError) as caught:
        event_from({"device": "gate-01", "fault": "motor_jammed", "for": "8d"}, "req")
    assert str(caught.value) == "req: events[0].for: at most 7d, got 8d"


# --- problems, each with file, line and field ---------------------------------------------

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
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"name: x\nevents: \xff\n")
    with pytest.raises(ScenarioError, match=r"binary.yaml:2: not UTF-8"):
        load_scenario(binary)


def test_an_alias_that_contains_itself_is_a_scenario_error() -> None:
    (problem,) = issues("events: &loop\n  - *loop\n")
    assert problem == "test.yaml:1: YAML: an alias refers to itself"


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
    loads: list[tuple[str, Callable[[], Scenario]]] = [
        ("any.yaml", lambda: parse(text, "any.yaml")),
        ("<scenario>", lambda: scenario_from(document)),
    ]
    for source, load in loads:
        try:
            load()
        except ScenarioError as exc:
            assert exc.issues
            assert all(str(issue).startswith(source) for issue in exc.issues)
