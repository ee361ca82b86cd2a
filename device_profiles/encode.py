"""Pure encoding of canonical state into a profile's vendor payload: the inverse of decoding.

Simulators use it to speak any profile's dialect: given a device's metrics, the faults it
reports itself and the event time, :func:`encode` returns the topic and the payload that
:func:`device_profiles.decode.decode` turns back into the same metrics, faults and time.

It starts from a template payload (by default the profile's first healthy example), so
fields the profile does not decode are sent as the vendor sends them, and changes only the
fields it must. Every value it writes is chosen by asking the decoder's own field reading
whether it reads back as wanted, and the finished payload is decoded once more, so what the
dialect cannot say (a value no ``map`` key gives, two faults in one CSV code cell, a metric
and a fault that share one field but disagree) raises :class:`EncodeError` instead of
producing a payload that means something else. No I/O.

This module checks the arguments and assembles the payload; :mod:`device_profiles.vendor_values`
chooses each field's value, with the field pieces shared with decoding
(:mod:`device_profiles.fields`).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from device_profiles.decode import decode
from device_profiles.fields import (
    MAX_PAYLOAD_BYTES,
    DecodeError,
    Document,
    EncodeError,
    as_document,
    put,
    read_field,
)
from device_profiles.schema import Example, Profile, Scalar, TopicSpec
from device_profiles.vendor_values import (
    Dialect,
    Writer,
    fault_writer,
    metric_writer,
    same,
    solve,
    timestamp_writer,
)

Template = dict[str, Any] | str

__all__ = ["EncodeError", "default_template", "encode"]


def encode(
    profile: Profile,
    device_id: str,
    metrics: Mapping[str, Scalar],
    faults: Iterable[str],
    ts: datetime,
    *,
    placeholders: Mapping[str, str] | None = None,
    template: Template | None = None,
) -> tuple[str, bytes]:
    """The topic and vendor payload with which ``device_id`` reports this canonical state.

    - ``metrics``: canonical values by metric name; a metric left out keeps the template's
      value.
    - ``faults``: every fault the device itself reports now (a fault source sets each to
      what this says). Faults that no fault source can express (rule-raised ones such as
      thresholds or silence) are ignored: set the metrics that raise them instead.
    - ``ts``: the event time, written if the profile has a ``decode.timestamp`` (a naive
      datetime counts as UTC).
    - ``placeholders``: values of the topic's other placeholders (``{zone}``, ...); each
      one not given is taken from the first example on the profile's first topic.
    - ``template``: the payload to start from (a mapping or JSON text for JSON topics, a
      line of text for CSV ones); default: the profile's first healthy example.

    Raises EncodeError (a ValueError) for unknown metric or fault names, values of the
    wrong type or out of range, and state the vendor's dialect cannot say.
    """
    spec = profile.topics[0]
    topic = _topic(profile, spec, device_id, placeholders)
    wanted = _wanted_metrics(profile, metrics)
    active = _active_faults(profile, faults)
    when = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    document = _template_document(profile, spec, template)
    dialect = Dialect(profile, spec, document)

    hard: dict[str, list[Writer]] = {}
    for name, value in wanted.items():
        metric = profile.decode.metrics[name]
        hard.setdefault(metric.source.path, []).append(metric_writer(name, metric, value, dialect))
    for source in profile.decode.faults:
        want = frozenset(active & source.fault_names())
        hard.setdefault(source.path, []).append(fault_writer(source, want, dialect))
    stamp = profile.decode.timestamp
    if stamp is not None:
        hard.setdefault(stamp.path, []).append(timestamp_writer(stamp, when, dialect))
    soft: dict[str, list[Writer]] = {}
    for name, metric in profile.decode.metrics.items():
        # A metric not asked for keeps its value, as far as the fields written allow.
        if name in wanted or metric.source.path not in hard:
            continue
        try:
            kept = read_field(document, metric.source, name, metric.unit)
        except DecodeError:
            continue
        if kept is not None:
            soft.setdefault(metric.source.path, []).append(
                metric_writer(name, metric, kept, dialect)
            )

    for path, writers in hard.items():
        value = solve(path, dialect, writers, soft.get(path, []))
        _put(document, path, value, spec)
    payload = _serialise(spec, document)
    _check(profile, topic, payload, when, wanted, active)
    return topic, payload


def default_template(profile: Profile) -> Template | None:
    """The payload :func:`encode` starts from by default: the first example on the
    profile's first topic that expects no fault, else the first example on that topic."""
    example = _default_example(profile, profile.topics[0])
    return None if example is None else example.payload


# --- arguments -------------------------------------------------------------------------


def _topic(
    profile: Profile, spec: TopicSpec, device_id: str, placeholders: Mapping[str, str] | None
) -> str:
    names = [name for name in spec.placeholders if name != "device_id"]
    given = dict(placeholders or {})
    if "device_id" in given:
        raise EncodeError("device_id is an argument of its own, not one of the placeholders")
    unknown = sorted(set(given) - set(names))
    if unknown:
        known = ", ".join(names) or "none"
        raise EncodeError(
            f"topic {spec.pattern!r} has no placeholder {unknown[0]!r} (it has: {known})"
        )
    defaults: dict[str, str] = {}
    for example in profile.examples:
        found = spec.match(example.topic)
        if found is not None:
            defaults = found
            break
    values: dict[str, str] = {}
    for name in names:
        value = given.get(name, defaults.get(name))
        if value is None:
            raise EncodeError(f"no value for placeholder {{{name}}} of {spec.pattern!r}")
        values[name] = value
    for name, value in [("device_id", device_id), *values.items()]:
        if not isinstance(value, str) or not value or any(ch in value for ch in "/+#\0"):
            raise EncodeError(f"{name} {value!r} cannot be a topic level")
    return spec.topic_for(device_id, **values)


def _wanted_metrics(profile: Profile, metrics: Mapping[str, Scalar]) -> dict[str, Scalar]:
    wanted: dict[str, Scalar] = {}
    for name, value in metrics.items():
        metric = profile.decode.metrics.get(name)
        if metric is None:
            known = ", ".join(sorted(profile.decode.metrics)) or "none"
            raise EncodeError(f"unknown metric {name!r}; {profile.id} decodes: {known}")
        path = metric.source.path
        kind = metric.source.type
        if kind in ("bool", "str"):
            expected = bool if kind == "bool" else str
            if not isinstance(value, expected):
                raise EncodeError(f"metric {name} is a {kind}, got {value!r}", path)
            wanted[name] = value
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise EncodeError(f"metric {name} is a number ({kind}), got {value!r}", path)
        if not math.isfinite(value):
            raise EncodeError(f"metric {name}={value} is not a finite number", path)
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise EncodeError(f"metric {name} is an int, got {value!r}", path)
            value = int(value)
        if metric.range is not None and not metric.range[0] <= value <= metric.range[1]:
            low, high = metric.range
            raise EncodeError(f"{name}={value} outside valid range [{low}, {high}]", path)
        wanted[name] = value
    return wanted


def _active_faults(profile: Profile, faults: Iterable[str]) -> set[str]:
    if isinstance(faults, str):
        raise EncodeError(f"faults is a collection of fault names, not one string: {faults!r}")
    active = set()
    for name in faults:
        if name not in profile.faults:
            known = ", ".join(sorted(profile.faults)) or "none"
            raise EncodeError(f"unknown fault {name!r}; {profile.id} declares: {known}")
        active.add(name)
    return active


def _default_example(profile: Profile, spec: TopicSpec) -> Example | None:
    on_topic = [example for example in profile.examples if spec.match(example.topic) is not None]
    healthy = [example for example in on_topic if not example.expect.faults]
    chosen = healthy or on_topic
    return chosen[0] if chosen else None


def _template_document(profile: Profile, spec: TopicSpec, template: Template | None) -> Document:
    if template is None:
        example = _default_example(profile, spec)
        if example is None:
            return {column: "" for column in spec.columns}
        template = example.payload
    document = as_document(spec, template)
    if document is None:
        kind = "a line of CSV text" if spec.format == "csv" else "a JSON object or its text"
        raise EncodeError(f"template must be {kind} for topic {spec.pattern!r}: {template!r}")
    return copy.deepcopy(document)  # written into: not the example's own


# --- the payload ------------------------------------------------------------------------


def _put(document: Document, path: str, value: Any, spec: TopicSpec) -> None:
    if spec.format == "csv":
        document[path] = value  # a column: its name is no path
    else:
        put(document, path, value)


def _serialise(spec: TopicSpec, document: Document) -> bytes:
    if spec.format == "csv":
        text = ",".join(str(document[column]) for column in spec.columns)
    else:
        try:
            text = json.dumps(document, allow_nan=False)
        except ValueError as exc:
            raise EncodeError(f"template cannot be sent as JSON: {exc}") from None
    payload = text.encode("utf-8")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise EncodeError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return payload


def _check(
    profile: Profile,
    topic: str,
    payload: bytes,
    ts: datetime,
    wanted: Mapping[str, Scalar],
    active: set[str],
) -> None:
    """Decode the finished payload: it must say what was asked (a last guard, e.g. against
    a template that lacks a field the profile needs)."""
    try:
        decoded = decode(profile, topic, payload, ts)
    except DecodeError as exc:
        raise EncodeError(f"the payload would not decode: {exc.reason}") from None
    for name, want in wanted.items():
        got = decoded.metrics.get(name)
        if got is None or not same(got, want):
            raise EncodeError(f"metric {name}={want!r} decodes back as {got!r}")
    stamp = profile.decode.timestamp
    if stamp is not None and abs((decoded.ts - ts).total_seconds()) >= 1.0:
        raise EncodeError(f"the timestamp decodes back as {decoded.ts.isoformat()}", stamp.path)
    expressible = {fault for source in profile.decode.faults for fault in source.fault_names()}
    if set(decoded.faults) != active & expressible:
        said = ", ".join(decoded.faults) or "none"
        raise EncodeError(f"the payload reports faults {said}, not those asked for")
