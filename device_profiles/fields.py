"""A vendor payload's fields, read and written: the pieces decoding and encoding share.

- a payload as the document its fields are read from: text, then a JSON object or, for a
  CSV topic, its cells by column name (:func:`payload_text`, :func:`document_of`);
- a value at a dotted path of that document (:func:`lookup`, :func:`put`);
- a field's vendor value as a canonical one — ``map``, cast to ``type``, ``scale`` and
  ``offset``, ``unit`` — (:func:`read_field`), and a canonical number back as the vendor's
  (:func:`vendor_number`);
- fault codes and flags (:func:`faults_of`), event times (:func:`to_datetime`).

:class:`DecodeError` says why a payload or a field does not read; :class:`EncodeError` why
a value cannot be written. No I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from device_profiles.schema import FaultSource, Field_, Scalar, TopicSpec
from device_profiles.units import conversion, convert

MAX_PAYLOAD_BYTES = 64 * 1024

Document = dict[str, Any]
"""A payload as its fields are read: a JSON object, or CSV cells by column name."""


class DecodeError(Exception):
    """A payload that its profile cannot turn into a reading; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EncodeError(ValueError):
    """Canonical state that the profile's vendor dialect cannot express, or bad arguments.

    ``reason`` says why; ``path`` names the payload field (dotted path or CSV column) when
    one field is to blame.
    """

    def __init__(self, reason: str, path: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


# --- the payload as a document -------------------------------------------------------------


def payload_text(payload: bytes) -> str:
    """The payload as text; DecodeError if it is too long or not UTF-8."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise DecodeError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from None


def json_of(text: str) -> Any:
    """The JSON value of ``text``; DecodeError if it is not JSON."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also ints over 4300 digits
        raise DecodeError(f"payload is not JSON: {exc}") from None


def document_of(spec: TopicSpec, text: str) -> Document:
    """The payload text of a topic as the document its fields are read from."""
    if spec.format == "csv":
        cells = [cell.strip() for cell in text.strip().split(",")]
        if len(cells) != len(spec.columns):
            raise DecodeError(f"expected {len(spec.columns)} csv columns, got {len(cells)}")
        return dict(zip(spec.columns, cells, strict=True))
    document = json_of(text)
    if not isinstance(document, dict):
        raise DecodeError(f"JSON payload must be an object, got {type(document).__name__}")
    return document


def as_document(spec: TopicSpec, payload: Any) -> Document | None:
    """A payload as a profile writes it (a mapping, or text) as the document of ``spec``'s
    topic, or None if it is not one; a mapping is returned itself, not a copy."""
    if isinstance(payload, str):
        try:
            return document_of(spec, payload)
        except DecodeError:
            return None
    return payload if spec.format == "json" and isinstance(payload, dict) else None


def lookup(document: Mapping[str, Any], path: str) -> Any:
    """The value at the dotted ``path`` (a column name in CSV), or None if there is none."""
    node: Any = document
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


class _Absent:
    """A field left out of the payload (how an optional fault field says "no fault")."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Final = _Absent()
"""The value :func:`put` writes by removing the field."""


def put(document: Document, path: str, value: Any) -> None:
    """Set the value at the dotted ``path`` (remove it, for :data:`ABSENT`), making the
    objects on the way that are missing; EncodeError if the path runs through a value that
    is not an object."""
    *parents, last = path.split(".")
    node = document
    for key in parents:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            raise EncodeError(f"cannot write {path!r}: {key!r} in the template is no object", path)
        node = child
    if value is ABSENT:
        node.pop(last, None)
    else:
        node[last] = value


# --- one field -----------------------------------------------------------------------------


def read_field(
    document: Mapping[str, Any], field: Field_, name: str, unit: str | None = None
) -> Scalar | None:
    """The canonical value of ``field`` (named ``name`` in errors), in ``unit`` if given;
    None if an optional field is absent. DecodeError if it does not read."""
    raw = lookup(document, field.path)
    if raw is None or raw == "":
        if field.optional:
            return None
        raise DecodeError(f"missing field {field.path!r} for {name}")
    if field.map is not None:
        key = as_key(raw)
        if key not in field.map:
            raise DecodeError(f"{name}: unknown value {raw!r} at {field.path!r}")
        raw = field.map[key]
    return _cast(raw, field, name, unit)


def as_key(raw: Any) -> str:
    """A vendor value as the text that ``map`` keys and fault codes are written in."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def as_boolean(raw: Any, name: str) -> bool:
    """A scalar read as a boolean: a boolean, or 1/0, true/false, on/off, yes/no in any case;
    DecodeError naming ``name`` for anything else."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise DecodeError(f"{name}: {raw!r} is not a boolean")


def _cast(raw: Any, field: Field_, name: str, unit: str | None = None) -> Scalar:
    if isinstance(raw, (dict, list)):
        raise DecodeError(f"{name}: expected a scalar at {field.path!r}")
    if field.type == "str":
        return str(raw)
    if field.type == "bool":
        return as_boolean(raw, name)
    if isinstance(raw, bool):
        raise DecodeError(f"{name}: expected a number, got a boolean")
    try:
        number = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise DecodeError(f"{name}: {preview(raw)} is not a number") from None
    number = number * field.scale + field.offset
    if field.unit is not None and unit is not None:
        number = convert(number, field.unit, unit)
    if not math.isfinite(number):
        raise DecodeError(f"{name}: {preview(raw)} is not a finite number")
    if field.type == "int":
        if not number.is_integer():
            raise DecodeError(f"{name}: {raw!r} is not an integer")
        return int(number)
    return round(number, 9)


def vendor_number(value: float, field: Field_, unit: str | None) -> float | None:
    """The vendor's number that ``field``'s scale, offset and unit turn into ``value``
    (canonical, in ``unit``): :func:`read_field`'s arithmetic backwards. None if no number
    does (a scale of 0)."""
    number = value
    if field.unit is not None and unit is not None:  # as read_field: only with a target
        scale, offset = conversion(field.unit, unit)
        number = (number - offset) / scale
    if field.scale == 0:
        return None
    return (number - field.offset) / field.scale


def faults_of(source: FaultSource, raw: Any) -> set[str]:
    """The faults that ``raw``, the value at ``source.path``, reports."""
    path = source.path
    if source.flag is not None:
        try:
            active = _cast(raw, Field_(path=path, type="bool"), path)
        except DecodeError:
            raise DecodeError(f"fault flag {path!r}: {raw!r} is not a boolean") from None
        return {source.flag} if active else set()
    codes = source.codes or {}
    values = raw if isinstance(raw, list) else [raw]
    found: set[str] = set()
    for value in values:
        if isinstance(value, (dict, list)):
            raise DecodeError(f"fault code at {path!r} must be a scalar")
        key = as_key(value)
        if key in source.ok:
            continue
        if key not in codes:
            raise DecodeError(f"unknown fault code {value!r} at {path!r}")
        found.add(codes[key])
    return found


def to_datetime(stamp: Scalar) -> datetime:
    """A timestamp field's value (unix seconds) as a UTC datetime."""
    if isinstance(stamp, (bool, str)):
        raise DecodeError(f"timestamp {stamp!r} is not unix seconds")
    try:
        return datetime.fromtimestamp(float(stamp), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise DecodeError(f"timestamp {stamp!r} is out of range") from None


def preview(value: Any, limit: int = 60) -> str:
    """``value`` for an error message, cut to ``limit`` characters (a huge number can even
    fail to print)."""
    try:
        text = repr(value)
    except ValueError:
        return f"a {type(value).__name__} too long to show"
    return text if len(text) <= limit else text[: limit - 3] + "..."
