"""One profile's decoding compiled once, for a receiver that decodes thousands a second.

:func:`~device_profiles.decode.decode` reads a profile's field descriptions anew for every
message and validates the :class:`~device_profiles.decode.Decoded` it builds. A
:class:`Decoder` reads them once: each field becomes a small function with its path, type,
map, scale, offset and unit conversion bound, and the reading is made without validating
again what its readers checked. Same readings, same DecodeError reasons, as ``decode`` (a
test holds them together on every catalogue example and on arbitrary payloads).

A receiver that sees the same topics again and again also keeps what a topic says —
its topic spec and its placeholders' values — with :meth:`Decoder.route`, and decodes with
:meth:`Decoder.read`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from device_profiles.decode import Decoded, match_topic
from device_profiles.fields import (
    MAX_PAYLOAD_BYTES,
    DecodeError,
    as_boolean,
    as_key,
    document_of,
    preview,
    to_datetime,
)
from device_profiles.schema import FaultSource, Field_, Profile, Scalar, TopicSpec
from device_profiles.units import conversion

__all__ = ["Decoder", "TopicMatch", "unchecked"]

M = TypeVar("M", bound=BaseModel)

Reader = Callable[[Mapping[str, Any]], Any]
"""A field's reader: the canonical value in a document, None if an optional field is
absent; DecodeError if it does not read."""


class TopicMatch:
    """What one topic of a profile says: its spec and its placeholders' values."""

    __slots__ = ("device_id", "placeholders", "spec")

    def __init__(self, spec: TopicSpec, placeholders: dict[str, str]) -> None:
        self.spec = spec
        self.placeholders = placeholders
        self.device_id = placeholders["device_id"]


class Decoder:
    """``profile``'s decoding, compiled; :meth:`decode` is ``decode(profile, ...)``."""

    __slots__ = ("_faults", "_metrics", "_timestamp", "profile")

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._metrics = tuple(
            (name, _reader(metric.source, name, metric.unit), metric.range)
            for name, metric in profile.decode.metrics.items()
        )
        self._faults = tuple(_fault_reader(source) for source in profile.decode.faults)
        stamp = profile.decode.timestamp
        self._timestamp = None if stamp is None else _reader(stamp, "timestamp", None)

    def route(self, topic: str) -> TopicMatch:
        """What ``topic`` says; DecodeError if it is none of the profile's topics."""
        matched = match_topic(self.profile, topic)
        if matched is None:
            raise DecodeError(f"topic {topic!r} does not match profile {self.profile.id}")
        return TopicMatch(*matched)

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> Decoded:
        """Decode one message that arrived on ``topic``; DecodeError if it is unusable."""
        route = self.route(topic)
        ts, metrics, faults = self.read(route.spec, payload, received_at)
        return self.decoded(route.device_id, ts, metrics, faults)

    def read(
        self, spec: TopicSpec, payload: bytes, received_at: datetime
    ) -> tuple[datetime, dict[str, Scalar], tuple[str, ...]]:
        """(time, metrics, faults) of a payload on a topic of ``spec``; DecodeError."""
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise DecodeError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from None
        if spec.format == "json":
            try:
                document = json.loads(text)
            except (ValueError, RecursionError) as exc:
                raise DecodeError(f"payload is not JSON: {exc}") from None
            if not isinstance(document, dict):
                raise DecodeError(f"JSON payload must be an object, got {type(document).__name__}")
        else:
            document = document_of(spec, text)
        metrics: dict[str, Scalar] = {}
        for name, reader, valid in self._metrics:
            value = reader(document)
            if value is None:
                continue
            if valid is not None and not isinstance(value, (bool, str)):
                low, high = valid
                if not low <= value <= high:
                    raise DecodeError(f"{name}={value} outside valid range [{low}, {high}]")
            metrics[name] = value
        faults: set[str] = set()
        for read_faults in self._faults:
            faults.update(read_faults(document))
        ts = received_at
        if self._timestamp is not None:
            stamp = self._timestamp(document)
            if stamp is not None:
                ts = to_datetime(stamp)
        return ts, metrics, tuple(sorted(faults))

    def decoded(
        self,
        device_id: str,
        ts: datetime,
        metrics: dict[str, Scalar],
        faults: tuple[str, ...],
    ) -> Decoded:
        """The Decoded of a reading :meth:`read` made, without validating it again."""
        profile = self.profile
        return unchecked(
            Decoded,
            {
                "device_id": device_id,
                "device_type": profile.type,
                "profile": profile.id,
                "profile_version": profile.version,
                "ts": ts,
                "metrics": metrics,
                "faults": faults,
            },
        )


_set = object.__setattr__


def unchecked(model: type[M], values: dict[str, Any]) -> M:
    """A ``model`` holding ``values`` — every one of its fields, each already of its type —
    made without validation: what ``model.model_construct(**values)`` makes, five times
    faster (no defaults to look up, no aliases). For values a caller has checked itself."""
    made = model.__new__(model)
    _set(made, "__dict__", values)
    _set(made, "__pydantic_fields_set__", set(values))
    _set(made, "__pydantic_extra__", None)
    _set(made, "__pydantic_private__", None)
    return made


# --- readers, as device_profiles.fields.read_field reads ---------------------------------------


def _lookup(path: str) -> Reader:
    """``fields.lookup`` of one path, bound."""
    keys = path.split(".")
    if len(keys) == 1:
        key = keys[0]
        return lambda document: document.get(key)

    def lookup(document: Mapping[str, Any]) -> Any:
        node: Any = document
        for part in keys:
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    return lookup


def _reader(field: Field_, name: str, unit: str | None) -> Reader:
    """``fields.read_field(document, field, name, unit)`` with everything but the
    document bound."""
    lookup = _lookup(field.path)
    path = field.path
    optional = field.optional
    mapping = field.map
    cast = _caster(field, name, unit)

    def read(document: Mapping[str, Any]) -> Any:
        raw = lookup(document)
        if raw is None or raw == "":
            if optional:
                return None
            raise DecodeError(f"missing field {path!r} for {name}")
        if mapping is not None:
            key = as_key(raw)
            if key not in mapping:
                raise DecodeError(f"{name}: unknown value {raw!r} at {path!r}")
            raw = mapping[key]
        return cast(raw)

    return read


def _caster(field: Field_, name: str, unit: str | None) -> Callable[[Any], Scalar]:
    """``fields._cast`` of one field, bound."""
    path = field.path
    if field.type == "str":

        def as_str(raw: Any) -> Scalar:
            if isinstance(raw, (dict, list)):
                raise DecodeError(f"{name}: expected a scalar at {path!r}")
            return str(raw)

        return as_str
    if field.type == "bool":

        def as_bool(raw: Any) -> Scalar:
            if isinstance(raw, (dict, list)):
                raise DecodeError(f"{name}: expected a scalar at {path!r}")
            return as_boolean(raw, name)

        return as_bool
    scale, offset = field.scale, field.offset
    converted = field.unit is not None and unit is not None
    unit_scale, unit_offset = (
        conversion(field.unit, unit) if field.unit is not None and unit is not None else (1.0, 0.0)
    )
    whole = field.type == "int"

    def as_number(raw: Any) -> Scalar:
        if isinstance(raw, (dict, list)):
            raise DecodeError(f"{name}: expected a scalar at {path!r}")
        if isinstance(raw, bool):
            raise DecodeError(f"{name}: expected a number, got a boolean")
        try:
            number = float(raw)
        except (TypeError, ValueError, OverflowError):
            raise DecodeError(f"{name}: {preview(raw)} is not a number") from None
        number = number * scale + offset
        if converted:
            number = number * unit_scale + unit_offset
        if not math.isfinite(number):
            raise DecodeError(f"{name}: {preview(raw)} is not a finite number")
        if whole:
            if not number.is_integer():
                raise DecodeError(f"{name}: {raw!r} is not an integer")
            return int(number)
        return round(number, 9)

    return as_number


def _fault_reader(source: FaultSource) -> Callable[[Mapping[str, Any]], set[str]]:
    """The faults a document reports at ``source``, as ``decode`` reads them (with
    ``fields.faults_of``)."""
    lookup = _lookup(source.path)
    path = source.path
    optional = source.optional
    found = _flag_reader(source) if source.flag is not None else _codes_reader(source)

    def read(document: Mapping[str, Any]) -> set[str]:
        raw = lookup(document)
        if raw is None:
            if optional:
                return set()
            raise DecodeError(f"missing fault field {path!r}")
        return found(raw)

    return read


def _flag_reader(source: FaultSource) -> Callable[[Any], set[str]]:
    path = source.path
    flag = source.flag or ""
    as_bool = _caster(Field_(path=path, type="bool"), path, None)

    def read(raw: Any) -> set[str]:
        try:
            active = as_bool(raw)
        except DecodeError:
            raise DecodeError(f"fault flag {path!r}: {raw!r} is not a boolean") from None
        return {flag} if active else set()

    return read


def _codes_reader(source: FaultSource) -> Callable[[Any], set[str]]:
    path = source.path
    codes = source.codes or {}
    ok = frozenset(source.ok)

    def read(raw: Any) -> set[str]:
        values = raw if isinstance(raw, list) else [raw]
        found: set[str] = set()
        for value in values:
            if isinstance(value, (dict, list)):
                raise DecodeError(f"fault code at {path!r} must be a scalar")
            key = as_key(value)
            if key in ok:
                continue
            if key not in codes:
                raise DecodeError(f"unknown fault code {value!r} at {path!r}")
            found.add(codes[key])
        return found

    return read
