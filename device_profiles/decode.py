"""Pure decoding of a vendor MQTT message into a canonical reading.

No I/O: the caller passes topic, payload bytes and the receipt time. Anything that
cannot be decoded raises :class:`DecodeError` with a reason; nothing else escapes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from device_profiles.schema import Field_, Profile, Scalar, TopicSpec
from device_profiles.units import convert

MAX_PAYLOAD_BYTES = 64 * 1024


class DecodeError(Exception):
    """A payload that its profile cannot turn into a reading; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Decoded(BaseModel):
    """What one vendor message says, in canonical terms."""

    model_config = ConfigDict(frozen=True)

    device_id: str
    device_type: str
    profile: str
    profile_version: str
    ts: datetime
    metrics: dict[str, Scalar]
    faults: tuple[str, ...]


def match_topic(profile: Profile, topic: str) -> tuple[TopicSpec, dict[str, str]] | None:
    """The topic spec of ``profile`` that ``topic`` matches, with its placeholder values."""
    for spec in profile.topics:
        found = spec.regex.match(topic)
        if found:
            return spec, found.groupdict()
    return None


def decode(profile: Profile, topic: str, payload: bytes, received_at: datetime) -> Decoded:
    """Decode one message that arrived on ``topic``; raise DecodeError if it is unusable."""
    matched = match_topic(profile, topic)
    if matched is None:
        raise DecodeError(f"topic {topic!r} does not match profile {profile.id}")
    spec, placeholders = matched
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise DecodeError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    document = _parse(spec, payload)
    metrics: dict[str, Scalar] = {}
    for name, metric in profile.decode.metrics.items():
        value = _read_field(document, metric.source, name, metric.unit)
        if value is None:
            continue
        if metric.range is not None and not isinstance(value, (bool, str)):
            low, high = metric.range
            if not low <= value <= high:
                raise DecodeError(f"{name}={value} outside valid range [{low}, {high}]")
        metrics[name] = value
    faults: set[str] = set()
    for source in profile.decode.faults:
        raw = _lookup(document, source.path)
        if raw is None:
            if source.optional:
                continue
            raise DecodeError(f"missing fault field {source.path!r}")
        faults.update(_faults_from(raw, source.codes, source.ok, source.flag, source.path))
    ts = received_at
    if profile.decode.timestamp is not None:
        stamp = _read_field(document, profile.decode.timestamp, "timestamp")
        if stamp is not None:
            ts = _to_datetime(stamp)
    return Decoded(
        device_id=placeholders["device_id"],
        device_type=profile.type,
        profile=profile.id,
        profile_version=profile.version,
        ts=ts,
        metrics=metrics,
        faults=tuple(sorted(faults)),
    )


def _parse(spec: TopicSpec, payload: bytes) -> Mapping[str, Any]:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from None
    if spec.format == "csv":
        cells = [cell.strip() for cell in text.strip().split(",")]
        if len(cells) != len(spec.columns):
            raise DecodeError(f"expected {len(spec.columns)} csv columns, got {len(cells)}")
        return dict(zip(spec.columns, cells, strict=True))
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also ints over 4300 digits
        raise DecodeError(f"payload is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DecodeError(f"JSON payload must be an object, got {type(document).__name__}")
    return document


def _lookup(document: Mapping[str, Any], path: str) -> Any:
    node: Any = document
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _read_field(
    document: Mapping[str, Any], field: Field_, name: str, unit: str | None = None
) -> Scalar | None:
    raw = _lookup(document, field.path)
    if raw is None or raw == "":
        if field.optional:
            return None
        raise DecodeError(f"missing field {field.path!r} for {name}")
    if field.map is not None:
        key = _as_key(raw)
        if key not in field.map:
            raise DecodeError(f"{name}: unknown value {raw!r} at {field.path!r}")
        raw = field.map[key]
    return _cast(raw, field, name, unit)


def _as_key(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _cast(raw: Any, field: Field_, name: str, unit: str | None = None) -> Scalar:
    if isinstance(raw, (dict, list)):
        raise DecodeError(f"{name}: expected a scalar at {field.path!r}")
    if field.type == "str":
        return str(raw)
    if field.type == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "on", "yes"):
            return True
        if text in ("0", "false", "off", "no"):
            return False
        raise DecodeError(f"{name}: {raw!r} is not a boolean")
    if isinstance(raw, bool):
        raise DecodeError(f"{name}: expected a number, got a boolean")
    try:
        number = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise DecodeError(f"{name}: {_short(raw)} is not a number") from None
    number = number * field.scale + field.offset
    if field.unit is not None and unit is not None:
        number = convert(number, field.unit, unit)
    if not math.isfinite(number):
        raise DecodeError(f"{name}: {_short(raw)} is not a finite number")
    if field.type == "int":
        if not number.is_integer():
            raise DecodeError(f"{name}: {raw!r} is not an integer")
        return int(number)
    return round(number, 9)


def _short(raw: Any) -> str:
    """``raw`` for an error message, cut short (a huge number can even fail to print)."""
    try:
        text = repr(raw)
    except ValueError:
        return f"a {type(raw).__name__} too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


def _faults_from(
    raw: Any,
    codes: Mapping[str, str] | None,
    ok: Iterable[str],
    flag: str | None,
    path: str,
) -> set[str]:
    if flag is not None:
        try:
            active = _cast(raw, Field_(path=path, type="bool"), path)
        except DecodeError:
            raise DecodeError(f"fault flag {path!r}: {raw!r} is not a boolean") from None
        return {flag} if active else set()
    assert codes is not None
    values = raw if isinstance(raw, list) else [raw]
    found: set[str] = set()
    for value in values:
        if isinstance(value, (dict, list)):
            raise DecodeError(f"fault code at {path!r} must be a scalar")
        key = _as_key(value)
        if key in ok:
            continue
        if key not in codes:
            raise DecodeError(f"unknown fault code {value!r} at {path!r}")
        found.add(codes[key])
    return found


def _to_datetime(stamp: Scalar) -> datetime:
    if isinstance(stamp, (bool, str)):
        raise DecodeError(f"timestamp {stamp!r} is not unix seconds")
    try:
        return datetime.fromtimestamp(float(stamp), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise DecodeError(f"timestamp {stamp!r} is out of range") from None
