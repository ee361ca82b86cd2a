"""Names that refer to each other, checked on the plain document and located."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from device_profiles.references import reference_problems
from tests.device_profiles.profile_texts import VALID


def document(**changes: Any) -> dict[str, Any]:
    """VALID as plain data, with top-level keys replaced."""
    data: dict[str, Any] = YAML(typ="safe").load(VALID)
    data.update(changes)
    return data


def test_a_valid_profile_has_no_reference_problems() -> None:
    assert reference_problems(document()) == []


def test_each_unresolved_name_is_located_where_it_is_written() -> None:
    data = document()
    data["decode"]["faults"] = [
        {"path": "dry", "flag": "dry_running"},
        {"path": "e", "codes": {"1": "x"}},
    ]
    data["rules"] = [
        {"fault": "exploded", "when": {"metric": "presure", "op": "<", "value": 1}},
        {"fault": "low_pressure", "while": [{"metric": "temp", "op": ">", "value": 1}]},
        {"fault": "low_pressure", "counter": {"metric": "hours", "every": 10}},
        {"fault": "low_pressure", "rate": {"fault": "leak", "count": 2, "window_s": 60}},
    ]
    data["examples"][1]["expect"]["faults"] = ["dry_run", "dried"]
    assert reference_problems(data) == [
        (("decode", "faults", 0, "flag"), "decode.faults names undeclared fault 'dry_running'"),
        (("decode", "faults", 1, "codes", "1"), "decode.faults names undeclared fault 'x'"),
        (("rules", 0, "fault"), "rule names undeclared fault 'exploded'"),
        (("rules", 0, "when", "metric"), "rule for 'exploded' reads unknown metric 'presure'"),
        (("rules", 1, "while", 0, "metric"), "rule for 'low_pressure' reads unknown metric 'temp'"),
        (("rules", 2, "counter", "metric"), "rule for 'low_pressure' reads unknown metric 'hours'"),
        (("rules", 3, "rate", "fault"), "rate rule counts undeclared fault 'leak'"),
        (
            ("examples", 1, "expect", "faults", 1),
            "example 'dry_run' expects undeclared fault 'dried'",
        ),
    ]


def test_fault_names_must_be_snake_case() -> None:
    data = document()
    data["faults"]["Dry-Run"] = data["faults"].pop("dry_run")
    data["decode"]["faults"] = []
    data["examples"][1]["expect"]["faults"] = []
    assert reference_problems(data) == [
        (("faults", "Dry-Run"), "fault name 'Dry-Run' must be lower_snake_case")
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"faults": "none"},
        {"decode": ["not", "a", "mapping"]},
        {"rules": [None, 3, {"fault": 7}]},
        {"examples": [{"expect": "ok"}, "x"]},
    ],
    ids=["faults_not_a_mapping", "decode_not_a_mapping", "odd_rules", "odd_examples"],
)
def test_parts_too_malformed_to_check_are_skipped(changes: dict[str, Any]) -> None:
    reference_problems(document(**changes))  # validation reports them; no exception here


def test_a_self_test_names_a_command_of_the_profile() -> None:
    """A repair is verified by sending the self-test command: it must be one the profile
    can say."""
    data = document()
    data["commands"] = {
        "reboot": {"description": "Restart", "topic": "x/{device_id}", "payload": "r"}
    }
    data["ticket"]["self_test"] = "selftest"
    assert reference_problems(data) == [
        (
            ("ticket", "self_test"),
            "self_test names no command of the profile: 'selftest' (its commands: reboot)",
        )
    ]
    data["ticket"]["self_test"] = "reboot"
    assert reference_problems(data) == []
