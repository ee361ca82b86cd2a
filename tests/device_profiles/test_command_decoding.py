"""Decoding commands: the inverse of encode_command, for every command in the catalogue."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from paho.mqtt.client import topic_matches_sub

from device_profiles import Profile
from device_profiles.commands import (
    CommandError,
    DecodedCommand,
    check_args,
    command_subscriptions,
    decode_command,
    encode_command,
)
from device_profiles.decode import MAX_PAYLOAD_BYTES
from device_profiles.schema import CommandArg, Scalar
from tests.device_profiles.profiles_under_test import CATALOGUE, LOAD_ERROR, PROFILES
from tests.sample_profiles import pump

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")

AWKWARD: dict[str, Any] = {
    "run": {
        "description": "Arguments whole, inside text, and constants of every JSON kind",
        "topic": "test/pump/{device_id}/set",
        "payload": {"cmd": "run", "on": "{on}", "why": "by {who}", "opts": [1, True, None, 2.5]},
        "args": {"on": {"type": "bool"}, "who": {"type": "str", "default": "linli"}},
    },
    "set_pressure": {
        "description": "A text payload on the same topic as JSON ones",
        "topic": "test/pump/{device_id}/set",
        "payload": "SP,{bar}",
        "args": {"bar": {"type": "float", "min": 1, "max": 6}},
    },
    "speed": {
        "description": "One argument twice; a bool inside text",
        "topic": "test/pump/{device_id}/set",
        "payload": {"cmd": "speed", "rpm": "{rpm}", "label": "{rpm} rpm, boost={boost}"},
        "args": {
            "rpm": {"type": "int", "min": -100, "max": 3000},
            "boost": {"type": "bool", "default": False},
        },
    },
    "level": {
        "description": "The whole payload is one number (sent as JSON)",
        "topic": "test/{site}-pumps/{device_id}/level",
        "payload": "{level}",
        "args": {"level": {"type": "int"}},
    },
    "enable": {
        "description": "The whole payload is one bool (sent as JSON: true or false)",
        "topic": "test/{site}-pumps/{device_id}/enable",
        "payload": "{on}",
        "args": {"on": {"type": "bool"}},
    },
    "say": {
        "description": "The whole payload is one text (sent as it is)",
        "topic": "test/{site}-pumps/{device_id}/say",
        "payload": "{text}",
        "args": {"text": {"type": "str"}},
    },
}


def _values(rule: CommandArg) -> list[Scalar]:
    """Valid values of one argument: its choices, its bounds and a middle, or plain ones."""
    if rule.choices:
        return list(rule.choices)
    if rule.type == "bool":
        return [True, False]
    if rule.type == "str":
        return ["plain", "two words, a comma, {braces} and ünïcode", ""]
    low = rule.min if rule.min is not None else -7.0
    high = rule.max if rule.max is not None else 12345.0
    if rule.type == "int":
        low, high = math.ceil(low), math.floor(high)
        return [low, high, (low + high) // 2]
    return [low, high, (low + high) / 2, 0.1 + 0.2 if low <= 0.3 <= high else high]


def _arg_sets(args: dict[str, CommandArg]) -> list[dict[str, Scalar]]:
    """The first valid value of each argument, each other value of each argument in turn,
    and the first values without the arguments that have defaults."""
    base = {arg: _values(rule)[0] for arg, rule in args.items()}
    sets = [base]
    for arg, rule in args.items():
        sets += [{**base, arg: value} for value in _values(rule)[1:]]
    without_defaults = {arg: v for arg, v in base.items() if args[arg].default is None}
    if without_defaults != base:
        sets.append(without_defaults)
    return sets


def _typed(args: dict[str, Scalar]) -> dict[str, tuple[type, Scalar]]:
    """Arguments with their types, so that 1, 1.0 and True compare unequal."""
    return {arg: (type(value), value) for arg, value in args.items()}


def _round_trips(profile: Profile, command: str) -> None:
    spec = profile.commands[command]
    placeholders = {
        name: f"{name.replace('_', '-')}-1"
        for name in _PLACEHOLDER.findall(spec.topic)
        if name != "device_id"
    }
    for args in _arg_sets(spec.args):
        topic, payload = encode_command(profile, "dev-01", command, args, placeholders)
        decoded = decode_command(profile, topic, payload)
        expected = check_args(command, spec.args, args)
        assert decoded.name == command, (args, payload)
        assert _typed(decoded.args) == _typed(expected), (args, payload)
        assert decoded.device_id == "dev-01"
        assert decoded.placeholders == placeholders


CATALOGUE_COMMANDS = [
    pytest.param(profile, command, id=f"{profile.id}.{command}")
    for profile in PROFILES
    for command in profile.commands
]


def test_the_catalogue_loads_and_has_commands() -> None:
    assert CATALOGUE is not None, LOAD_ERROR
    assert CATALOGUE_COMMANDS


@pytest.mark.parametrize(("profile", "command"), CATALOGUE_COMMANDS)
def test_every_catalogue_command_decodes_back_to_its_name_and_args(
    profile: Profile, command: str
) -> None:
    _round_trips(profile, command)


@pytest.mark.parametrize("command", sorted(AWKWARD))
def test_awkward_templates_decode_back_too(command: str) -> None:
    _round_trips(pump(commands=AWKWARD), command)


@pytest.mark.parametrize(
    ("profile_id", "topic", "payload", "name", "args"),
    [
        ("aquaboost_water_pump", "aquaboost/pump/p-2/cmd", b'{"cmd":"reset"}', "reset_alarm", {}),
        (
            "aquaboost_water_pump",
            "aquaboost/pump/p-2/cmd",
            b'{"cmd": "setpoint", "p_out": 420}',
            "set_pressure",
            {"kpa": 420},
        ),
        ("acme_access_gate", "acme/gate/g-1/cmd", b'{"action":"selftest"}', "self_test", {}),
        (
            "acme_access_gate",
            "acme/gate/g-1/cmd",
            b'{"hold":7,"action":"open"}',
            "open",
            {"hold_s": 7},
        ),
        ("turnix_access_gate", "turnix/east/t-1/down", b"MODE,free", "set_mode", {"mode": "free"}),
        (
            "turnix_access_gate",
            "turnix/east/t-1/down",
            b"OPEN,out,12",
            "open",
            {"direction": "out", "hold_s": 12},
        ),
        (
            "voltgo_ev_charger",
            "voltgo/cp/c-1/cmd",
            b'{"action":"ChangeAvailability","connectorId":0,"operative":false}',
            "set_available",
            {"available": False},
        ),
        (
            "voltgo_ev_charger",
            "voltgo/cp/c-1/cmd",
            b'{"action":"UnlockConnector","connectorId":1.0}',
            "unlock_connector",
            {},
        ),
        ("parkline_vehicle_barrier", "parkline/barrier/b-1/control", b'{"op":"DOWN"}', "close", {}),
    ],
)
def test_commands_sharing_a_topic_are_told_apart_by_their_payload(
    profile_id: str, topic: str, payload: bytes, name: str, args: dict[str, Scalar]
) -> None:
    assert CATALOGUE is not None, LOAD_ERROR
    decoded = decode_command(CATALOGUE[profile_id], topic, payload)
    assert (decoded.name, _typed(decoded.args)) == (name, _typed(args))


def test_a_decoded_command_names_device_and_topic_placeholders() -> None:
    assert CATALOGUE is not None, LOAD_ERROR
    profile = CATALOGUE["vistacam_camera"]
    decoded = decode_command(profile, "vistacam/nvr/nvr-2/cam/cam-9/cmd", b'{"cmd":"reboot"}')
    assert decoded == DecodedCommand("cam-9", "reboot", {}, {"nvr": "nvr-2"})


@pytest.mark.parametrize(
    ("profile_id", "topic", "payload", "reason"),
    [
        ("acme_access_gate", "acme/gate/g-1/state", b"{}", "not a command topic of acme_access"),
        ("acme_access_gate", "acme/gate/g-1/cmd/x", b"{}", "not a command topic"),
        ("acme_access_gate", "acme/gate/g-1/cmd", b"open please", "not JSON"),
        ("acme_access_gate", "acme/gate/g-1/cmd", b"[1]", "payload should be an object"),
        ("acme_access_gate", "acme/gate/g-1/cmd", b"\xffopen", "not UTF-8"),
        (
            "acme_access_gate",
            "acme/gate/g-1/cmd",
            b'{"action":"close"}',
            "no command of acme_access_gate [(]open: action is 'close', expected 'open'; "
            "self_test: action is 'close', expected 'selftest'[)]",
        ),
        ("acme_access_gate", "acme/gate/g-1/cmd", b'{"action":"open"}', "lacks 'hold'"),
        ("acme_access_gate", "acme/gate/g-1/cmd", b'{"action":"selftest","x":1}', "unexpected 'x'"),
        (
            "acme_access_gate",
            "acme/gate/g-1/cmd",
            b'{"action":"open","hold":"5"}',
            r"open\.hold_s: expected a number, got '5'",
        ),
        ("acme_access_gate", "acme/gate/g-1/cmd", b'{"action":"open","hold":61}', "above the max"),
        ("acme_access_gate", "acme/gate/g-1/cmd", b'{"action":"open","hold":0}', "below the min"),
        ("acme_access_gate", "acme/gate/g-1/cmd", b'{"action":"open","hold":2.5}', "whole number"),
        ("acme_access_gate", "acme/gate/g-1/cmd", b'{"action":"open","hold":NaN}', "not a finite"),
        (
            "brightway_street_light",
            "brightway/zone-a/lamp/l-1/set",
            b'{"cmd":"switch","on":1}',
            r"switch\.on: expected true or false",
        ),
        ("turnix_access_gate", "turnix/e/t-1/down", b"OPEN,sideways,5", "not one of in, out"),
        ("turnix_access_gate", "turnix/e/t-1/down", b"OPEN,in,soon", "expected a number"),
        ("turnix_access_gate", "turnix/e/t-1/down", b"OPEN,in,5.5", "whole number"),
        ("turnix_access_gate", "turnix/e/t-1/down", b"CLOSE", "'CLOSE' does not fit 'MODE,"),
        (
            "safecall_alarm_button",
            "safecall/s-1/cmd",
            b"RESET ",
            "payload is 'RESET ', expected 'RESET'",
        ),
        (
            "voltgo_ev_charger",
            "voltgo/cp/c-1/cmd",
            b'{"action":"UnlockConnector","connectorId":true}',
            "connectorId is True, expected 1",
        ),
        (
            "safecall_alarm_button",
            "safecall/s-1/cmd",
            b"R" * (MAX_PAYLOAD_BYTES + 1),
            "exceeds",
        ),
    ],
)
def test_a_message_that_is_no_valid_command_is_refused_with_a_reason(
    profile_id: str, topic: str, payload: bytes, reason: str
) -> None:
    assert CATALOGUE is not None, LOAD_ERROR
    with pytest.raises(CommandError, match=reason):
        decode_command(CATALOGUE[profile_id], topic, payload)


@pytest.mark.parametrize(
    ("command", "payload", "reason"),
    [
        ("set_pressure", b"SP,high", r"set_pressure\.bar: expected a number, got 'high'"),
        ("set_pressure", b"SP,9", "above the maximum 6"),
        ("set_pressure", b"SP," + b"9" * 5000, "expected a number"),
        ("run", b'{"cmd":"run","on":true,"why":"by me","opts":[1,true,null]}', "list of 4"),
        ("speed", b'{"cmd":"speed","rpm":5,"label":"6 rpm, boost=0"}', "given twice, as 5 and 6"),
        ("speed", b'{"cmd":"speed","rpm":5,"label":"5 rpm, boost=yes"}', "expected 1 or 0"),
        ("level", b'"5"', r"level\.level: expected a number"),
        ("enable", b"1", r"enable\.on: expected true or false"),
    ],
)
def test_awkward_templates_refuse_what_encoding_never_sends(
    command: str, payload: bytes, reason: str
) -> None:
    profile = pump(commands=AWKWARD)
    args = _arg_sets(profile.commands[command].args)[0]
    topic, _ = encode_command(profile, "p1", command, args, {"site": "north"})
    with pytest.raises(CommandError, match=reason):
        decode_command(profile, topic, payload)


def test_a_payload_that_fits_two_commands_is_ambiguous() -> None:
    twins = {
        name: {"description": name, "topic": "test/{device_id}/cmd", "payload": {"cmd": "go"}}
        for name in ("go", "also_go")
    }
    with pytest.raises(CommandError, match="ambiguous: it fits go, also_go"):
        decode_command(pump(commands=twins), "test/p1/cmd", b'{"cmd":"go"}')


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.id)
def test_command_subscriptions_receive_every_command_topic(profile: Profile) -> None:
    filters = command_subscriptions(profile)
    assert len(set(filters)) == len(filters)
    assert all("{" not in f and "#" not in f for f in filters)
    for name, spec in profile.commands.items():
        placeholders = {p: "x-1" for p in _PLACEHOLDER.findall(spec.topic) if p != "device_id"}
        args = _arg_sets(spec.args)[0]
        topic, _ = encode_command(profile, "dev-01", name, args, placeholders)
        assert any(topic_matches_sub(f, topic) for f in filters), (name, topic, filters)
    assert bool(filters) == bool(profile.commands)


def test_command_subscriptions_leave_out_filters_another_covers() -> None:
    commands = {
        name: {"description": name, "topic": topic, "payload": name}
        for name, topic in [
            ("a", "test/{zone}/{device_id}/cmd"),
            ("b", "test/north/{device_id}/cmd"),
            ("c", "test/{zone}/{device_id}/cmd"),
            ("d", "test/{device_id}-x/other"),
        ]
    }
    assert command_subscriptions(pump(commands=commands)) == ("test/+/+/cmd", "test/+/other")
    assert command_subscriptions(pump(commands=AWKWARD)) == (
        "test/pump/+/set",
        "test/+/+/level",
        "test/+/+/enable",
        "test/+/+/say",
    )


def test_json_payloads_decode_whatever_their_spacing_and_key_order() -> None:
    profile = pump(commands=AWKWARD)
    payload = json.dumps(
        {"opts": [1, True, None, 2.5], "why": "by you", "on": False, "cmd": "run"}, indent=2
    ).encode()
    decoded = decode_command(profile, "test/pump/p1/set", payload)
    assert (decoded.name, decoded.args) == ("run", {"on": False, "who": "you"})
