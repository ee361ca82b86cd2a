"""Choosing the vendor value of each payload field the encoder writes.

:class:`Dialect` is what the vendor's payloads look like (the template's shapes and types,
then the profile's examples'); a :class:`Writer` is something that needs a value at one
field — a metric, the faults of a fault source, the event time — with the vendor values it
proposes, best first, and a test of whether the decoder reads a value back as it needs;
:func:`solve` picks the value every writer of a field accepts. Numbers, booleans and codes
are proposed as the vendor writes them (``11`` or ``"11"``, ``"ON"``, an int where it sends
ints). Used by :mod:`device_profiles.encode`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from device_profiles.fields import (
    ABSENT,
    DecodeError,
    Document,
    EncodeError,
    as_document,
    as_key,
    faults_of,
    lookup,
    put,
    read_field,
    to_datetime,
    vendor_number,
)
from device_profiles.schema import FaultSource, Field_, Metric, Profile, Scalar, TopicSpec

# Relative and absolute tolerance of a number read back (the decoder rounds to 9 decimals).
_TOLERANCE: Final = 1e-9


# --- what the vendor's payloads look like ------------------------------------------------


class Dialect:
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
                if self._spec.match(example.topic) is not None:
                    steps = [example.payload, *(step.payload for step in example.history)]
                    for payload in steps:
                        parsed = as_document(self._spec, payload)  # only read
                        if parsed is not None:
                            self._others.append(parsed)
        yield from self._others

    def scalar(self, path: str) -> Any:
        """A value the vendor writes at ``path`` (an item, where it writes a list)."""
        for document in self._documents():
            value = lookup(document, path)
            items = value if isinstance(value, list) else [value]
            for item in items:
                if item is not None and not isinstance(item, (dict, list)):
                    return item
        return None

    def is_list(self, path: str) -> bool:
        """Whether the vendor writes a list at ``path``."""
        for document in self._documents():
            value = lookup(document, path)
            if value is not None:
                return isinstance(value, list)
        return False

    def codes(self, path: str) -> set[str]:
        """The codes (as text) the template has at ``path``."""
        value = lookup(self.template, path)
        items = value if isinstance(value, list) else [value]
        return {as_key(item) for item in items if item is not None}

    def probe(self, path: str, value: Any) -> Document:
        """A document holding only ``value`` at ``path``, as the decoder would see it."""
        if value is ABSENT:
            return {}
        if self.csv:
            return {path: value.strip() if isinstance(value, str) else value}
        document: Document = {}
        put(document, path, value)
        return document


# --- writers: who needs what at a path ---------------------------------------------------


@dataclass(frozen=True)
class Writer:
    """Something that needs a particular value at one payload field."""

    label: str
    proposals: tuple[Any, ...]  # vendor values to try, best first
    accepts: Callable[[Any], bool]  # the decoder reads the vendor value back as wanted
    detail: str = ""  # said when no value will do
    keeps_template: bool = True  # whether the template's value, if it will do, is kept


def metric_writer(name: str, metric: Metric, want: Scalar, dialect: Dialect) -> Writer:
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
        raw = vendor_number(float(want), field, metric.unit)
        for number in _number_proposals(raw):
            proposals.append(_number_value(number, hint, dialect.csv))

    def accepts(value: Any) -> bool:
        try:
            got = read_field(dialect.probe(field.path, value), field, name, metric.unit)
        except DecodeError:
            return False
        if got is None:
            return False
        in_range = (
            metric.range is None
            or isinstance(got, (bool, str))
            or metric.range[0] <= got <= metric.range[1]
        )
        return in_range and same(got, want)

    return Writer(f"metric {name}={want!r}", tuple(proposals), accepts, detail)


def fault_writer(source: FaultSource, want: frozenset[str], dialect: Dialect) -> Writer:
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
            proposals.append(ABSENT)
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
        raw = lookup(dialect.probe(path, value), path)
        if raw is None:
            return source.optional and not want
        try:
            return faults_of(source, raw) == want
        except DecodeError:
            return False

    label = f"faults {', '.join(sorted(want))}" if want else "no fault"
    detail = ""
    if csv and len(want) > 1:
        detail = "; a CSV cell holds one code"
    return Writer(f"{label} at {path!r}", tuple(proposals), accepts, detail)


def timestamp_writer(field: Field_, ts: datetime, dialect: Dialect) -> Writer:
    hint = dialect.scalar(field.path)
    seconds = ts.timestamp()
    exact = vendor_number(seconds, field, None)
    whole = vendor_number(float(round(seconds)), field, None)
    numbers: list[float] = []
    for raw in (exact, whole):
        if raw is not None and math.isfinite(raw):
            rounded = float(round(raw))
            numbers += [raw, rounded] if isinstance(hint, float) else [rounded, raw]
    proposals = [_number_value(number, hint, dialect.csv) for number in numbers]

    def accepts(value: Any) -> bool:
        try:
            stamp = read_field(dialect.probe(field.path, value), field, "timestamp")
            if stamp is None:
                return False
            return abs((to_datetime(stamp) - ts).total_seconds()) < 1.0
        except DecodeError:
            return False

    return Writer(f"timestamp {ts.isoformat()}", tuple(proposals), accepts, keeps_template=False)


def solve(path: str, dialect: Dialect, hard: list[Writer], soft: list[Writer]) -> Any:
    """The vendor value for ``path`` that every hard writer accepts (preferring one the
    soft writers accept too, and the template's own); EncodeError if there is none."""
    pool: list[Any] = []
    current = lookup(dialect.template, path)
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
    if value is ABSENT:
        return "<absent>"
    if value is None or isinstance(value, (str, int, float)):
        return (type(value), value)
    return json.dumps(value, sort_keys=True)


# --- vendor values -----------------------------------------------------------------------


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
    if as_key(typed) != key:  # "01", "1_000", " 7": the text is the code
        typed = key
    return [typed, key]


def same(got: Scalar, want: Scalar) -> bool:
    """Whether a value read back is the one wanted: booleans and text exactly, numbers
    within the decoder's rounding."""
    if isinstance(got, (bool, str)) or isinstance(want, (bool, str)):
        return type(got) is type(want) and got == want
    return math.isclose(got, want, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE)
