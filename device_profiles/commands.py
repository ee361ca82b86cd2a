"""Encoding a canonical command into the vendor's topic and payload, as the profile says."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from device_profiles.schema import CommandArg, Profile, Scalar

_WHOLE = re.compile(r"^\{([a-z_][a-z0-9_]*)\}$")
_INSIDE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class CommandError(ValueError):
    """A command the profile does not know, or arguments it does not accept."""


def check_args(
    name: str, spec: Mapping[str, CommandArg], args: Mapping[str, Any]
) -> dict[str, Scalar]:
    """Arguments typed and range-checked, defaults filled in."""
    unknown = sorted(set(args) - set(spec))
    if unknown:
        raise CommandError(f"{name}: unknown argument(s) {', '.join(unknown)}")
    checked: dict[str, Scalar] = {}
    for arg, rule in spec.items():
        if arg not in args:
            if rule.default is None:
                raise CommandError(f"{name}: argument {arg!r} is required")
            checked[arg] = rule.default
            continue
        checked[arg] = _typed(name, arg, rule, args[arg])
    return checked


def _typed(name: str, arg: str, rule: CommandArg, value: Any) -> Scalar:
    where = f"{name}.{arg}"
    if rule.type == "bool":
        if not isinstance(value, bool):
            raise CommandError(f"{where}: expected true or false, got {value!r}")
        typed: Scalar = value
    elif rule.type == "str":
        if not isinstance(value, str):
            raise CommandError(f"{where}: expected text, got {value!r}")
        typed = value
    else:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CommandError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise CommandError(f"{where}: {value!r} is not a finite number")
        if rule.type == "int":
            if not float(value).is_integer():
                raise CommandError(f"{where}: expected a whole number, got {value!r}")
            typed = int(value)
        else:
            typed = float(value)
        if rule.min is not None and typed < rule.min:
            raise CommandError(f"{where}: {typed} is below the minimum {rule.min:g}")
        if rule.max is not None and typed > rule.max:
            raise CommandError(f"{where}: {typed} is above the maximum {rule.max:g}")
    if rule.choices and typed not in rule.choices:
        allowed = ", ".join(str(c) for c in rule.choices)
        raise CommandError(f"{where}: {typed!r} is not one of {allowed}")
    return typed


def _fill(template: Any, values: Mapping[str, Scalar]) -> Any:
    if isinstance(template, dict):
        return {key: _fill(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, values) for value in template]
    if isinstance(template, str):
        whole = _WHOLE.match(template)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return _INSIDE.sub(
            lambda m: _text(values[m.group(1)]) if m.group(1) in values else m.group(0), template
        )
    return template


def _text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def encode_command(
    profile: Profile,
    device_id: str,
    command: str,
    args: Mapping[str, Any],
    placeholders: Mapping[str, str] | None = None,
) -> tuple[str, bytes]:
    """The vendor topic and payload that carry ``command`` to ``device_id``.

    ``placeholders`` fills the topic's other placeholders (e.g. the zone a device reports in).
    """
    spec = profile.commands.get(command)
    if spec is None:
        known = ", ".join(sorted(profile.commands)) or "none"
        raise CommandError(f"{profile.id} has no command {command!r} (known: {known})")
    values = check_args(command, spec.args, args)
    topic = _fill(spec.topic, {**(placeholders or {}), "device_id": device_id})
    if _INSIDE.search(topic):
        raise CommandError(f"{command}: topic {topic!r} still has unfilled placeholders")
    body = _fill(spec.payload, values)
    payload = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    return topic, payload.encode("utf-8")
