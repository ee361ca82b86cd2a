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
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from device_profiles.decode import (
    MAX_PAYLOAD_BYTES,
    DecodeError,
    _as_key,
    _faults_from,
    _lookup,
    _read_field,
    _to_datetime,
    decode,
)
from device_profiles.schema import Example, FaultSource, Field_, Metric, Profile, Scalar, TopicSpec
from device_profiles.units import conversion

Document = dict[str, Any]
Template = dict[str, Any] | str

__all__ = ["EncodeError", "default_template", "encode"]


class EncodeError(ValueError):
    """Canonical state that the profile's vendor dialect cannot express, or bad arguments.

    ``reason`` says why; ``path`` names the payload field (dotted path or CSV column) when
    one field is to blame.
    """

    def __init__(self, reason: str, path: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


class _Absent:
    """A field left out of the payload (how an optional fault field says "no fault")."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Final = _Absent()

# Relative and absolute tolerance of a number read back (the decoder rounds to 9 decimals).
_TOLERANCE: Final = 1e-9


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
    dialect = _Dialect(profile, spec, document)

    hard: dict[str, list[_Writer]] = {}
    for name, value in wanted.items():
        metric = profile.decode.metrics[name]
        hard.setdefault(metric.source.path, []).append(_metric_writer(name, metric, value, dialect))
    for source in profile.decode.faults:
        want = frozenset(active & source.fault_names())
        hard.setdefault(source.path, []).append(_fault_writer(source, want, dialect))
    stamp = profile.decode.timestamp
    if stamp is not None:
        hard.setdefault(stamp.path, []).append(_timestamp_writer(stamp, when, dialect))
    soft: dict[str, list[_Writer]] = {}
    for name, metric in profile.decode.metrics.items():
        # A metric not asked for keeps its value, as far as the fields written allow.
        if name in wanted or metric.source.path not in hard:
            continue
        try:
            kept = _read_field(document, metric.source, name, metric.unit)
        except DecodeError:
            continue
        if kept is not None:
            soft.setdefault(metric.source.path, []).append(
                _metric_writer(name, metric, kept, dialect)
            )

    for path, writers in hard.items():
        value = _solve(path, dialect, writers, soft.get(path, []))
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
    names = [name for name in spec.regex.groupindex if name != "device_id"]
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
        found = spec.regex.match(example.topic)
        if found:
            defaults = found.groupdict()
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
    on_topic = [example for example in profile.examples if spec.regex.match(example.topic)]
    healthy = [example for example in on_topic if not example.expect.faults]
    chosen = healthy or on_topic
    return chosen[0] if chosen else None


def _template_document(profile: Profile, spec: TopicSpec, template: Template | None) -> Document:
    if template is None:
        example = _default_example(profile, spec)
        if example is None:
            return {column: "" for column in spec.columns}
        template = example.payload
    document = _parse(spec, template)
    if document is None:
        kind = "a line of CSV text" if spec.format == "csv" else "a JSON object or its text"
        raise EncodeError(f"template must be {kind} for topic {spec.pattern!r}: {template!r}")
    return document


def _parse(spec: TopicSpec, payload: Any, *, private: bool = True) -> Document | None:
    """A payload as the decoder sees it (CSV: cells by column), or None if it is not one.
    ``private``: a copy the caller may change (else it may share the example's dicts)."""
    if spec.format == "csv":
        if not isinstance(payload, str):
            return None
        cells = [cell.strip() for cell in payload.strip().split(",")]
        if len(cells) != len(spec.columns):
            return None
        return dict(zip(spec.columns, cells, strict=True))
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except (ValueError, RecursionError):
            return None
    if not isinstance(payload, dict):
        return None
    return copy.deepcopy(payload) if private else payload


# --- what the vendor's payloads look like ------------------------------------------------


class _Dialect:
    """The shapes and types a vendor uses: the template's first, then the profile's examples
    (for a field the template leaves out, or an empty list whose items show no type)."""

    def __init__(self, profile: Profile, spec: TopicSpec, template: Document) -> None:
        self.csv = spec.format == "csv"
        self.template = template
        self._profile = profile
        self._spec = spec
        self._others: list[Document] | None = None

    def _documents(self) -> Iterable[Document]:
        yield self.template
        if self._others is None:
            self._others = []
            for example in self._profile.examples:
                if self._spec.regex.match(example.topic):
                    steps = [example.payload, *(step.payload for step in example.history)]
                    for payload in steps:
                        parsed = _parse(self._spec, payload, private=False)  # only read
                        if parsed is not None:
                            self._others.append(parsed)
        yield from self._others

    def scalar(self, path: str) -> Any:
        """A value the vendor writes at ``path`` (an item, where it writes a list)."""
        for document in self._documents():
            value = _lookup(document, path)
            items = value if isinstance(value, list) else [value]
            for item in items:
                if item is not None and not isinstance(item, (dict, list)):
                    return item
        return None

    def is_list(self, path: str) -> bool:
        """Whether the vendor writes a list at ``path``."""
        for document in self._documents():
            value = _lookup(document, path)
            if value is not None:
                return isinstance(value, list)
        return False

    def codes(self, path: str) -> set[str]:
        """The codes (as text) the template has at ``path``."""
        value = _lookup(self.template, path)
        items = value if isinstance(value, list) else [value]
        return {_as_key(item) for item in items if item is not None}

    def probe(self, path: str, value: Any) -> Document:
        """A document holding only ``value`` at ``path``, as the decoder would see it."""
        if value is _ABSENT:
            return {}
        if self.csv:
            return {path: value.strip() if isinstance(value, str) else value}
        document: Document = {}
        node = document
        *parents, last = path.split(".")
        for key in parents:
            child: Document = {}
            node[key] = child
            node = child
        node[last] = value
        return document


# --- writers: who needs what at a path ---------------------------------------------------


@dataclass(frozen=True)
class _Writer:
    """Something that needs a particular value at one payload field."""

    label: str
    proposals: tuple[Any, ...]  # vendor values to try, best first
    accepts: Callable[[Any], bool]  # the decoder reads the vendor value back as wanted
    detail: str = ""  # said when no value will do
    keeps_template: bool = True  # whether the template's value, if it will do, is kept


def _metric_writer(name: str, metric: Metric, want: Scalar, dialect: _Dialect) -> _Writer:
    field = metric.source
    hint = dialect.scalar(field.path)
    proposals: list[Any] = []
    detail = ""
    if field.map is not None:
        for key in field.map:
            proposals += _key_values(key, hint, dialect.csv)
        means = ", ".join(sorted({repr(value) for value in field.map.values()}))
        detail = f"; its vendor values mean {means}"
    elif field.type == "bool":
        proposals += _bool_values(bool(want), hint, dialect.csv)
    elif field.type == "str":
        proposals.append(str(want))
    elif isinstance(want, (int, float)):
        raw = _vendor_number(float(want), field, metric.unit)
        for number in _number_proposals(raw):
            proposals.append(_number_value(number, hint, dialect.csv))

    def accepts(value: Any) -> bool:
        try:
            got = _read_field(dialect.probe(field.path, value), field, name, metric.unit)
        except DecodeError:
            return False
        if got is None:
            return False
        in_range = (
            metric.range is None
            or isinstance(got, (bool, str))
            or metric.range[0] <= got <= metric.range[1]
        )
        return in_range and _same(got, want)

    return _Writer(f"metric {name}={want!r}", tuple(proposals), accepts, detail)


def _fault_writer(source: FaultSource, want: frozenset[str], dialect: _Dialect) -> _Writer:
    path = source.path
    hint = dialect.scalar(path)
    csv = dialect.csv
    proposals: list[Any] = []
    if source.flag is not None:
        proposals = _bool_values(bool(want), hint, csv)
    elif not want:
        ok = [value for code in source.ok for value in _key_values(code, hint, csv)]
        empty: list[Any] = [] if csv else [[]]
        proposals = empty + ok if dialect.is_list(path) else ok + empty
        if source.optional and not csv:
            proposals.append(_ABSENT)
    else:
        codes = source.codes or {}
        order = list(codes)
        kept = dialect.codes(path)
        choices = [  # per fault its codes, those the template already sends first
            sorted(
                (code for code in order if codes[code] == fault),
                key=lambda code: (code not in kept, order.index(code)),
            )
            for fault in want
        ]
        choices.sort(key=lambda options: order.index(options[0]))
        as_list = [] if csv else [[_key_values(options[0], hint, False)[0] for options in choices]]
        single = []
        if len(choices) == 1:
            single = [value for code in choices[0] for value in _key_values(code, hint, csv)]
        proposals = as_list + single if dialect.is_list(path) else single + as_list

    def accepts(value: Any) -> bool:
        raw = _lookup(dialect.probe(path, value), path)
        if raw is None:
            return source.optional and not want
        try:
            return _faults_from(raw, source.codes, source.ok, source.flag, path) == want
        except DecodeError:
            return False

    label = f"faults {', '.join(sorted(want))}" if want else "no fault"
    detail = ""
    if csv and len(want) > 1:
        detail = "; a CSV cell holds one code"
    return _Writer(f"{label} at {path!r}", tuple(proposals), accepts, detail)


def _timestamp_writer(field: Field_, ts: datetime, dialect: _Dialect) -> _Writer:
    hint = dialect.scalar(field.path)
    seconds = ts.timestamp()
    exact = _vendor_number(seconds, field, None)
    whole = _vendor_number(float(round(seconds)), field, None)
    numbers: list[float] = []
    for raw in (exact, whole):
        if raw is not None and math.isfinite(raw):
            rounded = float(round(raw))
            numbers += [raw, rounded] if isinstance(hint, float) else [rounded, raw]
    proposals = [_number_value(number, hint, dialect.csv) for number in numbers]

    def accepts(value: Any) -> bool:
        try:
            stamp = _read_field(dialect.probe(field.path, value), field, "timestamp")
            if stamp is None:
                return False
            return abs((_to_datetime(stamp) - ts).total_seconds()) < 1.0
        except DecodeError:
            return False

    return _Writer(f"timestamp {ts.isoformat()}", tuple(proposals), accepts, keeps_template=False)


def _solve(path: str, dialect: _Dialect, hard: list[_Writer], soft: list[_Writer]) -> Any:
    """The vendor value for ``path`` that every hard writer accepts (preferring one the
    soft writers accept too, and the template's own); EncodeError if there is none."""
    pool: list[Any] = []
    current = _lookup(dialect.template, path)
    if current is not None and all(writer.keeps_template for writer in hard):
        pool.append(current)
    for writer in hard:
        pool += writer.proposals
    candidates: list[Any] = []
    seen: set[object] = set()
    if dialect.csv and path not in dialect.template:
        pool = []  # not a column: the decoder never finds it
    for value in pool:
        if dialect.csv and not (isinstance(value, str) and "," not in value):
            continue
        key = _candidate_key(value)
        if key not in seen:
            seen.add(key)
            candidates.append(value)
    fallback: list[Any] = []
    for value in candidates:
        if all(writer.accepts(value) for writer in hard):
            if all(writer.accepts(value) for writer in soft):
                return value
            fallback = fallback or [value]
    if fallback:
        return fallback[0]
    for writer in hard:
        if not any(writer.accepts(value) for value in candidates):
            raise EncodeError(
                f"{writer.label}: no value at {path!r} decodes to it{writer.detail}", path
            )
    labels = " and ".join(writer.label for writer in hard)
    raise EncodeError(f"no value at {path!r} says both {labels}", path)


def _candidate_key(value: Any) -> object:
    """Equal for values that are the same JSON (1 and 1.0 and True stay apart)."""
    if value is _ABSENT:
        return "<absent>"
    if value is None or isinstance(value, (str, int, float)):
        return (type(value), value)
    return json.dumps(value, sort_keys=True)


# --- vendor values -----------------------------------------------------------------------


def _vendor_number(value: float, field: Field_, unit: str | None) -> float | None:
    """The vendor's number that the field's scale, offset and unit turn into ``value``."""
    number = value
    if field.unit is not None and unit is not None:  # as the decoder: only with a target
        scale, offset = conversion(field.unit, unit)
        number = (number - offset) / scale
    if field.scale == 0:
        return None
    return (number - field.offset) / field.scale


def _number_proposals(raw: float | None) -> list[float]:
    """``raw`` and its near neighbours, the plainest first (``299.99999999999994`` → 300)."""
    if raw is None or not math.isfinite(raw):
        return []
    nearest = float(round(raw))
    out = [nearest] if abs(raw - nearest) <= 1e-10 * max(1.0, abs(raw)) else []
    out += [float(f"{raw:.12g}"), raw, math.nextafter(raw, -math.inf)]
    out += [math.nextafter(raw, math.inf), nearest]
    return [number for number in out if math.isfinite(number)]


def _number_value(number: float, hint: Any, csv: bool) -> Any:
    """``number`` typed as the vendor writes it: text in CSV (or where the vendor sends
    numeric text), a float where it sends floats, else an int when whole."""
    whole = number.is_integer()
    if csv or isinstance(hint, str):
        return str(int(number)) if whole else repr(number)
    if isinstance(hint, float):
        return number
    return int(number) if whole else number


_BOOL_WORDS: Final = {
    "1": ("1", "0"),
    "0": ("1", "0"),
    "true": ("true", "false"),
    "false": ("true", "false"),
    "on": ("on", "off"),
    "off": ("on", "off"),
    "yes": ("yes", "no"),
    "no": ("yes", "no"),
}


def _bool_values(flag: bool, hint: Any, csv: bool) -> list[Any]:
    """``flag`` as the vendor writes booleans (like ``hint``), then plainer forms."""
    if csv or isinstance(hint, str):
        word = hint.strip() if isinstance(hint, str) else ""
        pair = _BOOL_WORDS.get(word.lower(), ("1", "0") if csv else ("true", "false"))
        text = pair[0] if flag else pair[1]
        if word.isupper():
            text = text.upper()
        elif word[:1].isupper():
            text = text.capitalize()
        return [text, "1" if flag else "0"] if csv else [text, flag]
    if isinstance(hint, int) and not isinstance(hint, bool):
        return [int(flag), flag]
    return [flag, int(flag)]


def _key_values(key: str, hint: Any, csv: bool) -> list[Any]:
    """A ``map`` key or fault code (text) as the vendor writes it — typed like ``hint``
    (``11`` where it sends numbers, ``true`` where booleans) if the text allows — then as
    text."""
    if csv:
        return [key]
    typed: Any = key
    try:
        if isinstance(hint, bool):
            if key in ("true", "false"):
                typed = key == "true"
        elif isinstance(hint, int):
            typed = int(key)
        elif isinstance(hint, float):
            typed = float(key)
    except ValueError:
        typed = key
    if isinstance(typed, float) and not math.isfinite(typed):
        typed = key
    if _as_key(typed) != key:  # "01", "1_000", " 7": the text is the code
        typed = key
    return [typed, key]


def _same(got: Scalar, want: Scalar) -> bool:
    if isinstance(got, (bool, str)) or isinstance(want, (bool, str)):
        return type(got) is type(want) and got == want
    return math.isclose(got, want, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)


# --- the payload ------------------------------------------------------------------------


def _put(document: Document, path: str, value: Any, spec: TopicSpec) -> None:
    if spec.format == "csv":
        document[path] = value
        return
    *parents, last = path.split(".")
    node = document
    for key in parents:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            raise EncodeError(f"cannot write {path!r}: {key!r} in the template is no object", path)
        node = child
    if value is _ABSENT:
        node.pop(last, None)
    else:
        node[last] = value


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
        if got is None or not _same(got, want):
            raise EncodeError(f"metric {name}={want!r} decodes back as {got!r}")
    stamp = profile.decode.timestamp
    if stamp is not None and abs((decoded.ts - ts).total_seconds()) >= 1.0:
        raise EncodeError(f"the timestamp decodes back as {decoded.ts.isoformat()}", stamp.path)
    expressible = {fault for source in profile.decode.faults for fault in source.fault_names()}
    if set(decoded.faults) != active & expressible:
        said = ", ".join(decoded.faults) or "none"
        raise EncodeError(f"the payload reports faults {said}, not those asked for")
