"""Commands: typed arguments checked, vendor topic and payload filled from the profile."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from device_profiles.commands import CommandError, encode_command
from tests.sample_profiles import pump

COMMANDS: dict[str, Any] = {
    "run": {
        "description": "Start or stop the pump",
        "topic": "test/pump/{device_id}/set",
        "payload": {"cmd": "run", "on": "{on}", "why": "by {who}"},
        "args": {"on": {"type": "bool"}, "who": {"type": "str", "default": "linli"}},
    },
    "set_pressure": {
        "description": "Target pressure",
        "topic": "test/pump/{device_id}/set",
        "payload": "SP,{bar}",
        "args": {"bar": {"type": "float", "min": 1, "max": 6}},
    },
    "mode": {
        "description": "Operating mode",
        "topic": "test/{site}/pump/{device_id}/mode",
        "payload": {"mode": "{mode}"},
        "args": {"mode": {"type": "str", "choices": ["auto", "manual"]}},
    },
}


def test_a_command_becomes_the_vendor_topic_and_payload() -> None:
    profile = pump(commands=COMMANDS)
    topic, payload = encode_command(profile, "p7", "run", {"on": True})
    assert topic == "test/pump/p7/set"
    assert json.loads(payload) == {"cmd": "run", "on": True, "why": "by linli"}
    assert encode_command(profile, "p7", "set_pressure", {"bar": 2.5})[1] == b"SP,2.5"
    topic, _ = encode_command(profile, "p7", "mode", {"mode": "auto"}, {"site": "north"})
    assert topic == "test/north/pump/p7/mode"


@pytest.mark.parametrize(
    ("command", "args", "reason"),
    [
        ("explode", {}, "has no command 'explode'"),
        ("run", {}, "argument 'on' is required"),
        ("run", {"on": "yes"}, "expected true or false"),
        ("run", {"on": True, "speed": 3}, "unknown argument"),
        ("set_pressure", {"bar": 9}, "above the maximum 6"),
        ("set_pressure", {"bar": 0.5}, "below the minimum 1"),
        ("set_pressure", {"bar": True}, "expected a number"),
        ("mode", {"mode": "turbo"}, "not one of auto, manual"),
    ],
)
def test_bad_commands_are_refused_with_a_reason(
    command: str, args: dict[str, Any], reason: str
) -> None:
    with pytest.raises(CommandError, match=reason):
        encode_command(pump(commands=COMMANDS), "p7", command, args)


def test_a_topic_placeholder_left_unfilled_is_refused() -> None:
    with pytest.raises(CommandError, match="unfilled placeholders"):
        encode_command(pump(commands=COMMANDS), "p7", "mode", {"mode": "auto"})


def test_a_payload_template_naming_an_undeclared_argument_fails_to_load() -> None:
    broken = {**COMMANDS, "run": {**COMMANDS["run"], "args": {"on": {"type": "bool"}}}}
    with pytest.raises(ValidationError, match="undeclared argument"):
        pump(commands=broken)
