"""Reading a scenario: a YAML file, or the same as values, into a validated :class:`Scenario`.

:func:`load_scenario` reads a file (:func:`plumbing.yamlfile.read_mapping`, which keeps each
node's line); :func:`scenario_from` takes values already decoded, such as a control
message's event (its problems have no line). Both check the types and unknown keys with
pydantic models, then the rules across fields, and collect every problem as a
``FILE:LINE: field: what`` issue in words a scenario's author uses; a ScenarioError lists
them all, in the order of their lines.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from plumbing.durations import Duration, OptionalDuration, format_duration
from plumbing.issues import Issue, IssuesError, Loc, dotted, message_of, validation_issues
from plumbing.yamlfile import read_mapping
from simulators.faults import DEFAULT_FAULT_DURATION_S, MAX_FAULT_DURATION_S, RANDOM_DURATION_S
from simulators.scenario.model import (
    DEFAULT_FLAP_PERIOD_S,
    DEFAULT_GARBAGE_COUNT,
    DEVICE_FAULTS,
    FLAPPING,
    GARBAGE,
    GATEWAY_KINDS,
    GROUP_TARGETS,
    MAX_GARBAGE_COUNT,
    RANDOM_KINDS,
    SPECIAL_KINDS,
    TARGET_KEYS,
    RandomFaults,
    Scenario,
    ScenarioError,
    ScriptedFault,
    Target,
)

_FAULT_NAME = r"^[a-z][a-z0-9_]*$"


def load_scenario(path: Path) -> Scenario:
    """The scenario in the YAML file at ``path``; ScenarioError listing every problem.

    Without a ``name`` it is called by the file's name without ``.yaml``.
    """
    try:
        document = read_mapping(path, what="a scenario", hint="with events and/or random")
        data = document.plain()
    except IssuesError as exc:
        raise ScenarioError(exc.issues) from None
    return _Parser(document, str(path)).scenario(data, path.stem)


def scenario_from(
    data: Mapping[str, Any], source: str = "<scenario>", *, default_name: str = ""
) -> Scenario:
    """The scenario in ``data`` (the values of a scenario file); ``source`` names it in
    problems, and is its name without a ``name`` and ``default_name``."""
    return _Parser(_Values(source), source).scenario(dict(data), default_name or source)


def event_from(fields: Mapping[str, Any], source: str) -> ScriptedFault:
    """One scenario event without its ``at`` (a control message's, a command line's), as an
    event to carry out now; ScenarioError says what is wrong with it."""
    return scenario_from({"events": [{**fields, "at": 0}]}, source).events[0]


class _Source(Protocol):
    """Where the values come from: what locates a problem in them."""

    def line_of(self, loc: Loc) -> int | None: ...

    def issue(self, loc: Loc, message: str) -> Issue: ...

    def validation_issues(
        self,
        exc: ValidationError,
        *,
        prefix: Loc = ...,
        message: Callable[[ErrorDetails], str] = ...,
    ) -> list[Issue]: ...


@dataclass(frozen=True)
class _Values:
    """Values that come from no file: problems name ``source``, without a line."""

    source: str

    def line_of(self, loc: Loc) -> int | None:
        return None

    def issue(self, loc: Loc, message: str) -> Issue:
        return Issue(self.source, None, dotted(loc), message)

    def validation_issues(
        self,
        exc: ValidationError,
        *,
        prefix: Loc = (),
        message: Callable[[ErrorDetails], str] = message_of,
    ) -> list[Issue]:
        return validation_issues(exc, self.source, prefix=prefix, message=message)


# --------------------------------------------------------------------------------------
# The fields and their types: pydantic models

Name = Annotated[str, Field(min_length=1, strict=True)]
FaultName = Annotated[
    str,
    Field(pattern=_FAULT_NAME, strict=True, description="lower-case letters, digits and _"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _EventModel(_Strict):
    """An event's fields and their types. All optional, so that the other fields are still
    checked when one is missing or bad; :data:`_EVENT_REQUIRED` are required."""

    at: OptionalDuration = None
    device: Name | None = None
    devices: list[Name] | None = None
    zone: Name | None = None
    profile: Name | None = None
    type: Name | None = None
    category: Name | None = None
    gateway: bool | None = None
    fault: FaultName | None = None
    for_: OptionalDuration = Field(default=None, alias="for")
    flap: FaultName | None = None
    period: OptionalDuration = None
    count: Annotated[int, Field(strict=True)] | None = None


_EVENT_REQUIRED = ("at", "fault")


class _RandomModel(_Strict):
    mtbf: OptionalDuration = None
    duration: tuple[Duration, Duration] | None = None
    kinds: list[Name] | None = None


class _ScenarioModel(_Strict):
    name: Name | None = None
    events: list[Any] | None = None
    random: dict[str, Any] | None = None


M = TypeVar("M", bound=BaseModel)


# --------------------------------------------------------------------------------------
# Parsing: values → pydantic models (types, unknown keys) → checks across fields → dataclasses


class _Parser:
    """Validates one scenario's values, collecting every problem with its line."""

    def __init__(self, source: _Source, source_name: str) -> None:
        self.source = source
        self.source_name = source_name
        self.issues: list[Issue] = []

    def problem(self, loc: Loc, message: str) -> None:
        self.issues.append(self.source.issue(loc, message))

    def validate(
        self, model: type[M], data: dict[str, Any], loc: Loc, required: Sequence[str] = ()
    ) -> M | None:
        """``data`` as ``model``, noting each problem. Fields with a problem are left out (as
        if not given), so the result still serves to check the others; None only if even
        that fails."""
        for key in required:
            if key not in data:
                self.problem((*loc, key), "required")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            self.issues += self.source.validation_issues(
                exc, prefix=loc, message=lambda error: _message(error, model)
            )
            bad = {error["loc"][0] if error["loc"] else None for error in exc.errors()}
        if None in bad:
            return None
        try:
            return model.model_validate({k: v for k, v in data.items() if k not in bad})
        except ValidationError:
            return None

    def scenario(self, data: dict[str, Any], default_name: str) -> Scenario:
        top = self.validate(_ScenarioModel, data, ())
        events: list[ScriptedFault] = []
        random_faults: RandomFaults | None = None
        if top is not None:
            for index, raw in enumerate(top.events or ()):
                event = self.event(index, raw)
                if event is not None:
                    events.append(event)
            if top.random is not None:
                random_faults = self.random(top.random)
            if not self.issues and not top.events and top.random is None:
                self.problem((), "nothing to do: give events, random, or both")
        if self.issues or top is None:
            self.issues.sort(key=lambda issue: issue.line or 0)
            raise ScenarioError(self.issues)
        events.sort(key=lambda event: event.at_s)
        return Scenario(top.name or default_name, self.source_name, tuple(events), random_faults)

    def event(self, index: int, raw: Any) -> ScriptedFault | None:
        """The event at ``index`` of the file's events, or None after noting its problems."""
        loc: Loc = ("events", index)
        if not isinstance(raw, dict):
            self.problem(loc, "an event must be a mapping (at:, a target, fault:, ...)")
            return None
        before = len(self.issues)
        model = self.validate(_EventModel, raw, loc, _EVENT_REQUIRED)
        if model is None:
            return None
        self.event_checks(loc, raw, model)
        if len(self.issues) > before or model.at is None or model.fault is None:
            return None
        target = Target(
            device=model.device,
            devices=tuple(model.devices) if model.devices is not None else None,
            zone=model.zone,
            profile=model.profile,
            type=model.type,
            category=model.category,
            gateway=bool(model.gateway),
        )
        default_for = 0.0 if model.fault == GARBAGE else DEFAULT_FAULT_DURATION_S
        return ScriptedFault(
            at_s=model.at,
            target=target,
            fault=model.fault,
            duration_s=model.for_ if model.for_ is not None else default_for,
            line=self.source.line_of(loc) or 0,
            flap=model.flap,
            period_s=model.period if model.period is not None else DEFAULT_FLAP_PERIOD_S,
            count=model.count if model.count is not None else DEFAULT_GARBAGE_COUNT,
            index=index,
        )

    def event_checks(self, loc: Loc, raw: Mapping[str, Any], model: _EventModel) -> None:
        """The rules across an event's fields, each problem at the field it is about."""
        targets = [key for key in raw if key in TARGET_KEYS]
        if model.gateway is False:  # said below; not a target
            targets.remove("gateway")
        fault = model.fault
        if not targets and model.gateway is not False:
            self.problem(loc, f"no target: give one of {', '.join(TARGET_KEYS)}")
        for key in targets[1:]:
            self.problem((*loc, key), f"only one target per event, and this one has {targets[0]}")
        if model.gateway is False:
            self.problem((*loc, "gateway"), "must be true (leave it out to target devices)")
        if model.category is not None and (not targets or targets[0] not in GROUP_TARGETS):
            self.problem((*loc, "category"), "narrows only a zone, profile or type target")
        if model.devices is not None:
            if not model.devices:
                self.problem((*loc, "devices"), "must name at least one device")
            seen: set[str] = set()
            for position, device in enumerate(model.devices):
                if device in seen:
                    self.problem((*loc, "devices", position), f"{device!r} is listed twice")
                seen.add(device)
        if len(targets) == 1 and fault is not None:
            if targets[0] == "gateway" and fault not in GATEWAY_KINDS:
                self.problem(
                    (*loc, "fault"),
                    f"the gateway can have only {' or '.join(sorted(GATEWAY_KINDS))}, not {fault}",
                )
            elif targets[0] != "gateway" and fault in GATEWAY_KINDS:
                self.problem(
                    (*loc, "fault"), f"{fault} is a gateway fault: use gateway: true as the target"
                )
        self.options_checks(loc, model)

    def options_checks(self, loc: Loc, model: _EventModel) -> None:
        """The options of the fault kinds, and the durations."""
        fault = model.fault
        if fault == FLAPPING:
            if model.flap is None:
                self.problem((*loc, "flap"), "required with fault: flapping (the fault to flap)")
            elif model.flap in SPECIAL_KINDS:
                self.problem((*loc, "flap"), "must be a fault of the device's profile")
        elif fault is not None:
            for key in ("flap", "period"):
                if getattr(model, key) is not None:
                    self.problem((*loc, key), f"only with fault: {FLAPPING}")
        if fault not in (GARBAGE, None) and model.count is not None:
            self.problem((*loc, "count"), f"only with fault: {GARBAGE}")
        if model.count is not None and not 1 <= model.count <= MAX_GARBAGE_COUNT:
            self.problem((*loc, "count"), f"must be 1 to {MAX_GARBAGE_COUNT}, got {model.count}")
        duration = model.for_
        if duration is not None:
            if duration > MAX_FAULT_DURATION_S:
                self.problem(
                    (*loc, "for"),
                    f"at most {format_duration(MAX_FAULT_DURATION_S)}, "
                    f"got {format_duration(duration)}",
                )
            elif duration == 0 and fault not in (GARBAGE, None):
                self.problem((*loc, "for"), "must be longer than 0")
        period = model.period
        if period is not None:
            if period == 0:
                self.problem((*loc, "period"), "must be longer than 0")
            elif period >= (duration if duration is not None else DEFAULT_FAULT_DURATION_S):
                length = format_duration(duration or DEFAULT_FAULT_DURATION_S)
                self.problem(
                    (*loc, "period"),
                    f"must be shorter than for ({length}{'' if duration else ', the default'}), "
                    "or the device never flaps",
                )

    def random(self, raw: dict[str, Any]) -> RandomFaults | None:
        """The random faults, or None after noting their problems."""
        loc: Loc = ("random",)
        before = len(self.issues)
        model = self.validate(_RandomModel, raw, loc, ("mtbf",))
        if model is None:
            return None
        if model.mtbf == 0:
            self.problem((*loc, "mtbf"), "must be longer than 0")
        duration = model.duration if model.duration is not None else RANDOM_DURATION_S
        low, high = duration
        if low == 0:
            self.problem((*loc, "duration", 0), "must be longer than 0")
        if high > MAX_FAULT_DURATION_S:
            self.problem(
                (*loc, "duration", 1),
                f"at most {format_duration(MAX_FAULT_DURATION_S)}, got {format_duration(high)}",
            )
        if low > high:
            self.problem((*loc, "duration"), "give [shortest, longest]: the first is longer")
        kinds = tuple(model.kinds) if model.kinds is not None else (DEVICE_FAULTS,)
        if not kinds:
            self.problem((*loc, "kinds"), "must name at least one kind")
        for position, kind in enumerate(kinds):
            if kind not in RANDOM_KINDS:
                self.problem(
                    (*loc, "kinds", position),
                    f"unknown kind {kind!r}: use {', '.join(sorted(RANDOM_KINDS))}",
                )
            elif kind in kinds[:position]:
                self.problem((*loc, "kinds", position), f"{kind!r} is listed twice")
        if len(self.issues) > before or model.mtbf is None:
            return None
        return RandomFaults(model.mtbf, duration, kinds)


def _message(error: ErrorDetails, model: type[BaseModel]) -> str:
    """A pydantic error (from validating ``model``) in the words of a scenario file."""
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        allowed = [field.alias or name for name, field in model.model_fields.items()]
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"unknown field ({hint}allowed: {', '.join(allowed)})"
    if kind == "missing":
        return (
            "must be two durations: [shortest, longest]" if loc[:1] == ("duration",) else "required"
        )
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a mapping (key: value lines)"
    if kind == "list_type":
        return "must be a list"
    if kind == "string_type":
        return "must be text"
    if kind == "int_type":
        return "must be a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("tuple_type", "too_short", "too_long") and loc and loc[0] == "duration":
        return "must be two durations: [shortest, longest]"
    if kind == "string_pattern_mismatch":
        return "must be a fault name: lower-case letters, digits and _ (like motor_jammed)"
    return message_of(error)
