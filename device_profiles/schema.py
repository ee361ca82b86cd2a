"""The device-profile format (``linli.profile/v1``) as pydantic models.

A profile is data: how to recognise a device type's MQTT topics, how to decode
its vendor payload into canonical metrics and faults, which faults exist and how
severe they are, the health rules that turn readings into faults, the ticket a
fault opens, and example payloads that double as tests.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from device_profiles import topics
from device_profiles.references import SNAKE_CASE, reference_problems
from device_profiles.units import conversion

PROFILE_SCHEMA = "linli.profile/v1"

Scalar = float | int | bool | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Severity(StrEnum):
    """How bad a fault is; decides the facility's health while it is active."""

    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class Health(StrEnum):
    """Health of a device or facility, worst last."""

    OK = "ok"
    DEGRADED = "degraded"
    FAULTY = "faulty"

    @property
    def rank(self) -> int:
        return _HEALTH_RANK[self]

    @classmethod
    def from_severity(cls, severity: Severity) -> Health:
        return cls.DEGRADED if severity is Severity.MINOR else cls.FAULTY


_HEALTH_RANK = {Health.OK: 0, Health.DEGRADED: 1, Health.FAULTY: 2}


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TopicSpec(_Strict):
    """One MQTT topic layout, e.g. ``acme/gate/{device_id}/status``.

    Each ``{name}`` placeholder fills a whole topic level and appears once; ``{device_id}``
    is required.
    """

    pattern: str
    format: Literal["json", "csv"] = "json"
    columns: tuple[str, ...] = Field(
        default=(), description="csv only: the name of each comma-separated column"
    )

    @field_validator("pattern")
    @classmethod
    def _pattern_has_device_id(cls, value: str) -> str:
        names = topics.placeholders(value)
        if "device_id" not in names:
            raise ValueError("topic pattern must contain the {device_id} placeholder")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"placeholder {{{repeated[0]}}} appears more than once")
        if any(ch in value for ch in "+#"):
            raise ValueError("use {placeholders}, not MQTT wildcards, in a topic pattern")
        for level in value.split("/"):
            if "{" in level and not topics.PLACEHOLDER.fullmatch(level):
                raise ValueError(f"placeholder must fill a whole topic level: {level!r}")
        return value

    @model_validator(mode="after")
    def _csv_needs_columns(self) -> TopicSpec:
        if self.format == "csv" and not self.columns:
            raise ValueError("a csv topic must list its columns")
        if self.format == "json" and self.columns:
            raise ValueError("columns apply to csv topics only")
        return self

    @property
    def subscription(self) -> str:
        """The MQTT subscription filter that receives this topic."""
        return topics.subscription(self.pattern)

    @property
    def placeholders(self) -> list[str]:
        """The names of the pattern's placeholders, ``device_id`` among them."""
        return topics.placeholders(self.pattern)

    def match(self, topic: str) -> dict[str, str] | None:
        """The placeholders' values if ``topic`` is one of this pattern's, else None."""
        return topics.match(self.pattern, topic)

    def topic_for(self, device_id: str, **values: str) -> str:
        """The concrete topic a device with this id publishes on; a placeholder not given
        in ``values`` stands for itself (``{zone}`` becomes ``zone``)."""
        names = {name: name for name in self.placeholders}
        return topics.fill(self.pattern, {**names, **values, "device_id": device_id})


class Field_(_Strict):
    """Where a value sits in the payload and how to turn it into a canonical value.

    Pieces apply in order: read ``path`` → ``map`` (enum) → cast to ``type`` →
    ``scale`` and ``offset`` → ``unit`` conversion into the metric's unit.
    """

    path: str = Field(description="dotted path into a JSON payload, or a csv column name")
    type: Literal["float", "int", "bool", "str"] = "float"
    map: dict[str, Scalar] | None = Field(
        default=None, description="vendor value (as text) → canonical value"
    )
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = Field(
        default=None, description="the vendor's unit; converted into the metric's unit"
    )
    optional: bool = False


class Metric(_Strict):
    """A canonical measurement or state of the device."""

    source: Field_
    unit: str | None = None
    range: tuple[float, float] | None = Field(
        default=None, description="valid [min, max]; a value outside is a decode error"
    )
    deadband: Annotated[float, Field(ge=0)] | None = Field(
        default=None,
        description="a change smaller than this is not news: the edge forwards it only on the "
        "heartbeat (report by exception)",
    )
    description: str = ""

    @model_validator(mode="after")
    def _range_ordered(self) -> Metric:
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError("range minimum is above its maximum")
        if self.source.unit is not None:
            if self.unit is None:
                raise ValueError("source.unit needs the metric's own unit to convert into")
            conversion(self.source.unit, self.unit)
        return self


class FaultSource(_Strict):
    """A payload field that reports faults.

    Either ``codes`` maps vendor codes to fault names (the field may hold one code or a
    list; codes listed in ``ok`` mean no fault), or ``flag`` names the fault raised while
    the field is true.
    """

    path: str
    codes: dict[str, str] | None = None
    ok: tuple[str, ...] = ()
    flag: str | None = None
    optional: bool = False

    @model_validator(mode="after")
    def _codes_or_flag(self) -> FaultSource:
        if (self.codes is None) == (self.flag is None):
            raise ValueError("a fault source has exactly one of 'codes' or 'flag'")
        return self

    def fault_names(self) -> set[str]:
        return set(self.codes.values()) if self.codes else {self.flag or ""}


class Fault(_Strict):
    """A fault this device type can have."""

    title: str
    severity: Severity = Severity.MAJOR
    priority: Priority | None = Field(
        default=None, description="overrides the ticket template's priority"
    )
    ticket: bool = Field(default=True, description="whether this fault opens a repair ticket")


class Condition(_Strict):
    """``metric`` compared with ``value``."""

    metric: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: Scalar


class Silence(_Strict):
    """No report for this many heartbeats."""

    heartbeats: Annotated[float, Field(ge=1)]


class Counter(_Strict):
    """Usage since the last service reached ``every`` (preventive maintenance)."""

    metric: str
    every: Annotated[float, Field(gt=0)]


class Rate(_Strict):
    """``fault`` started ``count`` times within ``window_s`` seconds."""

    fault: str
    count: Annotated[int, Field(ge=2)]
    window_s: Annotated[float, Field(gt=0)]


RuleKind = Literal["threshold", "silence", "counter", "rate"]


class Rule(_Strict):
    """Raises ``fault``. Exactly one kind per rule:

    - threshold: ``when`` (and every ``while``) holds, for at least ``for_s`` seconds;
    - ``silence``: the device sent nothing for a number of heartbeats;
    - ``counter``: a usage metric grew by ``every`` since the last service;
    - ``rate``: another fault started ``count`` times within a window.
    """

    fault: str
    when: Condition | None = None
    while_: tuple[Condition, ...] = Field(default=(), alias="while")
    for_s: Annotated[float, Field(ge=0, description="threshold must hold this long")] = 0.0
    silence: Silence | None = None
    counter: Counter | None = None
    rate: Rate | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [k for k in ("when", "silence", "counter", "rate") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "a rule has exactly one of 'when', 'silence', 'counter' or 'rate'"
                + (f"; found {', '.join(kinds)}" if kinds else "")
            )
        if self.when is None and (self.while_ or self.for_s):
            raise ValueError("'while' and 'for_s' belong to threshold rules ('when')")
        return self

    @property
    def kind(self) -> RuleKind:
        if self.silence is not None:
            return "silence"
        if self.counter is not None:
            return "counter"
        if self.rate is not None:
            return "rate"
        return "threshold"

    def conditions(self) -> tuple[Condition, ...]:
        return () if self.when is None else (self.when, *self.while_)


class CommandArg(_Strict):
    """One typed argument of a command."""

    type: Literal["int", "float", "bool", "str"]
    description: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Scalar, ...] = ()
    default: Scalar | None = None


class CommandSpec(_Strict):
    """A command the device accepts, and how to say it in the vendor's words.

    ``payload`` is a template: a string value that is exactly ``{arg}`` becomes the typed
    argument; ``{arg}`` inside a longer string is replaced by its text.
    """

    description: str
    topic: str = Field(description="topic pattern, with {device_id} and the topic's placeholders")
    payload: dict[str, Any] | str
    args: dict[str, CommandArg] = {}

    @field_validator("topic")
    @classmethod
    def _topic_has_device_id(cls, value: str) -> str:
        if "device_id" not in topics.placeholders(value):
            raise ValueError("command topic must contain the {device_id} placeholder")
        return value

    @field_validator("args")
    @classmethod
    def _args_are_placeholder_names(cls, value: dict[str, CommandArg]) -> dict[str, CommandArg]:
        for name in value:
            if not re.fullmatch(topics.NAME, name):
                raise ValueError(f"argument name {name!r} is no placeholder name ({topics.NAME})")
        return value

    @model_validator(mode="after")
    def _payload_names_known_args(self) -> CommandSpec:
        used = set(topics.placeholders(json.dumps(self.payload)))
        unknown = sorted(used - self.args.keys())
        if unknown:
            raise ValueError(f"payload template uses undeclared argument(s) {', '.join(unknown)}")
        return self


class TicketTemplate(_Strict):
    skill: str
    priority: Priority = Priority.NORMAL
    sla: str = Field(default="standard", description="SLA class name")
    verify_s: Annotated[float, Field(ge=0)] = Field(
        default=0,
        description="after a repair, how long the fault must stay away for the fix to hold",
    )
    self_test: str | None = Field(
        default=None,
        description="a command of the profile that makes the device test itself: sent when "
        "a repair is to be verified, the device's next readings being the result",
    )


class InUse(_Strict):
    """The facility is in use while ``metric`` has ``value``."""

    metric: str
    value: Scalar = Field(description="the metric's canonical value that means in use")


class Usage(_Strict):
    """How the device's data measures the use of its facility (the utilisation figures).
    Exactly one of ``counter`` or ``state``."""

    counter: str | None = Field(
        default=None,
        description="an int metric that counts uses since installation (a gate's cycles, a "
        "lift's trips): its increase is the uses; a value lower than the one before means "
        "the counter restarted from 0",
    )
    state: InUse | None = Field(
        default=None,
        description="a bool or str metric and its value that means in use (a lamp on, a "
        "charger charging): the time it holds is the time in use",
    )
    description: str = Field(
        default="", description="what is counted, e.g. passages, trips, time lit"
    )

    @model_validator(mode="after")
    def _counter_or_state(self) -> Usage:
        if (self.counter is None) == (self.state is None):
            raise ValueError("usage has exactly one of 'counter' or 'state'")
        return self

    @property
    def metric(self) -> str:
        """The metric that measures the use."""
        if self.state is not None:
            return self.state.metric
        return self.counter or ""


class Translation(_Strict):
    """A profile's words in one more language: what the people's views show instead of the
    English ones. Any part left out is shown in English."""

    name: str | None = Field(default=None, description="the profile's name")
    metrics: dict[str, str] = Field(
        default={}, description="per metric, its name (English shows the metric's id)"
    )
    faults: dict[str, str] = Field(default={}, description="per fault, its title")
    usage: str | None = Field(default=None, description="the usage description")


LanguageTag = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
"""A BCP 47 language tag, e.g. ``zh-Hans``."""


class Decoding(_Strict):
    timestamp: Field_ | None = Field(
        default=None, description="event time in the payload, unix seconds; else receipt time"
    )
    metrics: dict[str, Metric] = {}
    faults: tuple[FaultSource, ...] = ()


class Expectation(_Strict):
    device_id: str
    metrics: dict[str, Scalar] = {}
    faults: tuple[str, ...] = ()
    health: Health = Health.OK


class HistoryStep(_Strict):
    """A message the device sent before the example's own (for duration and rate rules)."""

    payload: dict[str, Any] | str
    before_s: Annotated[float, Field(ge=0)] = Field(
        default=0, description="received this long before the example's payload"
    )


class Example(_Strict):
    """A vendor message and what it must decode to. Every example is a test.

    ``history`` is fed first, oldest first; ``silent_for_s`` then lets time pass with no
    message (for silence rules) before the expectation is checked.
    """

    name: str
    topic: str
    payload: dict[str, Any] | str
    history: tuple[HistoryStep, ...] = ()
    silent_for_s: Annotated[float, Field(ge=0)] = 0
    expect: Expectation


class Profile(_Strict):
    """One device type in one vendor dialect."""

    schema_: Literal["linli.profile/v1"] = Field(alias="schema")
    id: Annotated[str, Field(pattern=SNAKE_CASE, description="unique: device type in one dialect")]
    type: Annotated[str, Field(pattern=SNAKE_CASE, description="device type, e.g. access_gate")]
    name: str
    category: str = Field(description="facility kind, e.g. access, lighting, alarm")
    vendor: str
    model: str = ""
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    heartbeat_s: Annotated[float, Field(gt=0, description="expected seconds between reports")]
    topics: Annotated[tuple[TopicSpec, ...], Field(min_length=1)]
    decode: Decoding
    faults: dict[str, Fault] = {}
    rules: tuple[Rule, ...] = ()
    commands: dict[str, CommandSpec] = {}
    ticket: TicketTemplate
    usage: Usage | None = Field(
        default=None,
        description="how the data measures the use of the device's facility, for the "
        "utilisation figures; none: its use is not measured",
    )
    pieces: dict[str, dict[str, Any]] = Field(
        default={},
        description="shared pieces merged into the profile when it is loaded, by id, with "
        "their parameters (docs/profiles.md, Pieces); e.g. offline: {what: Gate controller}",
    )
    translations: dict[LanguageTag, Translation] = Field(
        default={},
        description="the profile's words in other languages, by language tag (e.g. zh-Hans); "
        "English is the profile's own",
    )
    examples: Annotated[tuple[Example, ...], Field(min_length=1)]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _references_resolve(self) -> Profile:
        problems = reference_problems(self.model_dump(by_alias=True))
        if problems:
            raise ValueError("; ".join(dict.fromkeys(message for _, message in problems)))
        return self

    def fault(self, name: str) -> Fault:
        return self.faults[name]
