"""Encoding a canonical command into the vendor's topic and payload, as the profile says,
and decoding it back (what a device, or its simulator, makes of a command it receives)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from device_profiles import topics
from device_profiles.fields import DecodeError, json_of, payload_text, preview
from device_profiles.schema import CommandArg, CommandSpec, Profile, Scalar
from device_profiles.topics import PLACEHOLDER


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
        whole = PLACEHOLDER.fullmatch(template)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return topics.fill(template, {name: _text(value) for name, value in values.items()})
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
    topic = topics.fill(spec.topic, {**(placeholders or {}), "device_id": device_id})
    if PLACEHOLDER.search(topic):
        raise CommandError(f"{command}: topic {topic!r} still has unfilled placeholders")
    body = _fill(spec.payload, values)
    payload = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    return topic, payload.encode("utf-8")


@dataclass(frozen=True)
class DecodedCommand:
    """A command message as the device reads it."""

    device_id: str
    name: str
    """The command's name in ``profile.commands``."""
    args: dict[str, Scalar]
    """Typed as the command's arguments say; defaults for arguments the payload omits."""
    placeholders: dict[str, str]
    """The topic's other placeholders (zone, site, ...)."""


_Found = list[tuple[str, Any, bool]]
"""Arguments found in a payload: (argument, value, whether the value is still text)."""


class _Mismatch(Exception):
    """The payload does not have the shape of a command's template."""


_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_WHOLE_NUMBER = re.compile(r"-?\d+")


def command_subscriptions(profile: Profile) -> tuple[str, ...]:
    """MQTT filters that receive every command topic of ``profile``, each once.

    Each level with a placeholder becomes ``+``; a filter that another one covers is left out.
    """
    return topics.subscriptions(spec.topic for spec in profile.commands.values())


def decode_command(profile: Profile, topic: str, payload: bytes) -> DecodedCommand:
    """Which of ``profile``'s commands a message on ``topic`` is, with its typed arguments.

    The inverse of :func:`encode_command`. Commands may share a topic and differ only in
    their payload's constant parts; CommandError, with a reason, when the topic or the
    payload fits no command, fits several, or carries an argument its spec refuses.
    """
    on_topic = [
        (name, spec, values)
        for name, spec in profile.commands.items()
        if (values := topics.match(spec.topic, topic)) is not None
    ]
    if not on_topic:
        raise CommandError(f"topic {topic!r} is not a command topic of {profile.id}")
    try:
        text = payload_text(payload)
    except DecodeError as exc:
        raise CommandError(exc.reason) from None
    document = _Document(text)
    decoded: list[DecodedCommand] = []
    refused: list[str] = []
    mismatches: list[str] = []
    for name, spec, values in on_topic:
        try:
            args = _decode_args(name, spec, document)
        except _Mismatch as exc:
            mismatches.append(f"{name}: {exc}")
            continue
        except CommandError as exc:
            refused.append(str(exc))
            continue
        device_id = values.pop("device_id")
        decoded.append(DecodedCommand(device_id, name, args, values))
    if len(decoded) > 1:
        names = ", ".join(command.name for command in decoded)
        raise CommandError(f"payload {preview(text)} is ambiguous: it fits {names}")
    if decoded:
        return decoded[0]
    if refused:
        raise CommandError("; ".join(refused))
    raise CommandError(
        f"payload {preview(text)} on {topic!r} is no command of {profile.id} "
        f"({'; '.join(mismatches)})"
    )


class _Document:
    """The payload as text, and as JSON when a template needs it (parsed once)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._parsed: tuple[Any, str | None] | None = None

    def json(self) -> Any:
        if self._parsed is None:
            try:
                self._parsed = (json_of(self.text), None)
            except DecodeError as exc:
                self._parsed = (None, exc.reason)
        value, problem = self._parsed
        if problem is not None:
            raise _Mismatch(problem)
        return value


def _decode_args(name: str, spec: CommandSpec, document: _Document) -> dict[str, Scalar]:
    found: _Found = []
    template = spec.payload
    if not isinstance(template, str):
        _match(template, document.json(), "", spec.args, found)
    elif (whole := PLACEHOLDER.fullmatch(template)) and whole.group(1) in spec.args:
        arg = whole.group(1)
        if spec.args[arg].type == "str":  # encode_command sends a text payload as it is
            found.append((arg, document.text, False))
        else:
            found.append((arg, document.json(), False))
    else:
        _match_text(template, document.text, "payload", spec.args, found)
    args: dict[str, Scalar] = {}
    for arg, raw, is_text in found:
        rule = spec.args[arg]
        value = _typed(name, arg, rule, _from_text(name, arg, rule, raw) if is_text else raw)
        if arg in args and args[arg] != value:
            raise CommandError(f"{name}.{arg}: given twice, as {args[arg]!r} and {value!r}")
        args[arg] = value
    for arg, rule in spec.args.items():
        if arg not in args and rule.default is not None:
            args[arg] = rule.default
    return args


def _match(
    template: Any,
    node: Any,
    where: str,
    rules: Mapping[str, CommandArg],
    found: _Found,
) -> None:
    """Check ``node`` (parsed JSON) has ``template``'s shape; collect argument values."""
    at = where or "payload"
    if isinstance(template, dict):
        if not isinstance(node, dict):
            raise _Mismatch(f"{at} should be an object, got {preview(node)}")
        for key, value in template.items():  # the constants tell commands apart: first
            if key in node:
                _match(value, node[key], f"{where}.{key}" if where else key, rules, found)
        missing = [key for key in template if key not in node]
        if missing:
            raise _Mismatch(f"{at} lacks {', '.join(map(repr, missing))}")
        extra = [key for key in node if key not in template]
        if extra:
            raise _Mismatch(f"{at} has unexpected {', '.join(map(repr, extra))}")
    elif isinstance(template, list):
        if not isinstance(node, list) or len(node) != len(template):
            raise _Mismatch(f"{at} should be a list of {len(template)}, got {preview(node)}")
        for i, (value, item) in enumerate(zip(template, node, strict=True)):
            _match(value, item, f"{where}[{i}]", rules, found)
    elif isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template)
        if whole and whole.group(1) in rules:
            found.append((whole.group(1), node, False))
        elif not isinstance(node, str):
            raise _Mismatch(f"{at} should be text like {template!r}, got {preview(node)}")
        else:
            _match_text(template, node, at, rules, found)
    elif not _same(template, node):
        raise _Mismatch(f"{at} is {preview(node)}, expected {preview(template)}")


def _match_text(
    template: str,
    text: str,
    at: str,
    rules: Mapping[str, CommandArg],
    found: _Found,
) -> None:
    """Match ``text`` against a template with ``{arg}`` inside; collect the arguments' text."""
    parts: list[str] = []
    names: list[str] = []
    end = 0
    for placeholder in PLACEHOLDER.finditer(template):
        if placeholder.group(1) not in rules:
            continue  # encode_command leaves an unknown {name} as it is
        parts.append(re.escape(template[end : placeholder.start()]))
        parts.append("(.*?)")
        names.append(placeholder.group(1))
        end = placeholder.end()
    parts.append(re.escape(template[end:]))
    matched = re.fullmatch("".join(parts), text, re.DOTALL)
    if matched is None and not names:
        raise _Mismatch(f"{at} is {preview(text)}, expected {template!r}")
    if matched is None:
        raise _Mismatch(f"{at} {preview(text)} does not fit {template!r}")
    found.extend((arg, value, True) for arg, value in zip(names, matched.groups(), strict=True))


def _from_text(name: str, arg: str, rule: CommandArg, text: str) -> Any:
    """An argument's value from the text encode_command put inside a longer string."""
    if rule.type == "str":
        return text
    if rule.type == "bool":
        if text in ("1", "0"):
            return text == "1"
        raise CommandError(f"{name}.{arg}: expected 1 or 0, got {text!r}")
    if _NUMBER.fullmatch(text):
        try:
            return int(text) if _WHOLE_NUMBER.fullmatch(text) else float(text)
        except ValueError:  # more digits than int() converts
            pass
    raise CommandError(f"{name}.{arg}: expected a number, got {preview(text)}")


def _same(constant: Any, value: Any) -> bool:
    """Whether a JSON value equals a template constant (1 and 1.0 alike; true is not 1)."""
    if isinstance(constant, bool) or isinstance(value, bool):
        return type(constant) is type(value) and constant == value
    return bool(constant == value)
