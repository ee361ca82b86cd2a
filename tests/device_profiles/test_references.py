"""Names that refer to each other, checked on the plain document and located."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from device_profiles.references import reference_problems
from device_profiles.schema import Usage
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


def _with_metrics(usage: dict[str, Any]) -> dict[str, Any]:
    """VALID with a counter (int), a running flag (bool) and a mode (str, mapped), and
    ``usage``."""
    data = document(usage=usage)
    data["decode"]["metrics"].update(
        {
            "starts": {"source": {"path": "n", "type": "int"}},
            "running": {"source": {"path": "run", "type": "bool"}},
            "mode": {"source": {"path": "m", "type": "str", "map": {"A": "auto", "H": "hand"}}},
        }
    )
    return data


@pytest.mark.parametrize(
    ("usage", "problem"),
    [
        ({"counter": "starts"}, None),
        ({"state": {"metric": "running", "value": True}}, None),
        ({"state": {"metric": "mode", "value": "auto"}}, None),
        ({"counter": "stars"}, (("usage", "counter"), "usage counts unknown metric 'stars'")),
        (
            {"counter": "pressure"},
            (("usage", "counter"), "usage counter 'pressure' must be an int metric, not float"),
        ),
        (
            {"state": {"metric": "runing", "value": True}},
            (("usage", "state", "metric"), "usage reads unknown metric 'runing'"),
        ),
        (
            {"state": {"metric": "starts", "value": 1}},
            (
                ("usage", "state", "metric"),
                "usage state 'starts' must be a bool or str metric, not int",
            ),
        ),
        (
            {"state": {"metric": "running", "value": "yes"}},
            (
                ("usage", "state", "value"),
                "usage state 'running' is a bool metric: its value is true or false",
            ),
        ),
        (
            {"state": {"metric": "mode", "value": True}},
            (("usage", "state", "value"), "usage state 'mode' is a str metric: its value is text"),
        ),
        (
            {"state": {"metric": "mode", "value": "AUTO"}},
            (
                ("usage", "state", "value"),
                "'mode' never decodes to 'AUTO' (its values: auto, hand)",
            ),
        ),
    ],
)
def test_usage_names_a_metric_of_its_kind(
    usage: dict[str, Any], problem: tuple[Any, str] | None
) -> None:
    """The utilisation figures count a counter's increase and a state's time: a usage that
    names no metric, or one of the wrong kind or with a value it never has, would count
    nothing in silence."""
    assert reference_problems(_with_metrics(usage)) == ([problem] if problem else [])


def test_usage_is_either_a_counter_or_a_state() -> None:
    for neither_or_both in ({}, {"counter": "n", "state": {"metric": "on", "value": True}}):
        with pytest.raises(ValidationError, match="exactly one of 'counter' or 'state'"):
            Usage.model_validate(neither_or_both)
    assert Usage.model_validate({"counter": "n"}).metric == "n"
    assert Usage.model_validate({"state": {"metric": "on", "value": True}}).metric == "on"


def test_a_translation_words_only_the_profiles_own_faults_and_metrics() -> None:
    """A misspelt name in a translation would leave that fault in English without a word."""
    data = document(
        translations={
            "zh-Hans": {
                "name": "水泵",
                "faults": {"dry_run": "干转", "dry_runing": "干转"},
                "metrics": {"pressure": "压力", "presure": "压力"},
            }
        }
    )
    assert reference_problems(data) == [
        (
            ("translations", "zh-Hans", "faults", "dry_runing"),
            "translation zh-Hans words unknown fault 'dry_runing'",
        ),
        (
            ("translations", "zh-Hans", "metrics", "presure"),
            "translation zh-Hans words unknown metric 'presure'",
        ),
    ]
