"""The site-file format (``linli.site/v1``): one community as data, beside the device profile.

A site file says what a community is made of and who works in it: its zones and buildings,
its facilities and the devices each is made of (a device named as its gateway names it), its
gateways, its people with their roles, skills and zones, its SLA classes and the calendars
they count business time by. ``linli site apply`` makes the cloud's register say the same;
the simulator builds its community from the same file, so the demo's devices and the
cloud's register agree.

Every collection is a mapping from an id to its entry, so an id cannot be given twice; ids
are short slugs (``east-gate``, ``building-5``, ``li.wei``). Names that point elsewhere in
the file (a facility's zone, a device's gateway, a person's zones, an SLA class's calendar)
must be defined in it; :func:`site_reference_problems` says where one is not, so a loader can
report ``file:line: field: message``.
"""

from __future__ import annotations

import re
from datetime import date, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from plumbing.durations import Duration
from plumbing.issues import IssuesError
from plumbing.yamlfile import read_mapping

SITE_SCHEMA = "linli.site/v1"

Slug = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$",
        description="lower-case letters, digits, '.', '_' and '-', at most 63, starting with a "
        "letter or digit",
    ),
]
GatewayId = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="the gateway's id"),
]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HOURS = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(StrEnum):
    """What a person does in a community (operator admins are not in a site file)."""

    PROPERTY_MANAGER = "property_manager"
    SUPERVISOR = "supervisor"
    MAINTAINER = "maintainer"


class Community(_Strict):
    id: Slug
    name: Name
    time_zone: str = Field(
        default="UTC", description="IANA time zone of the community (Asia/Shanghai)"
    )
    address: str = Field(default="", max_length=500)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (IANA names: Asia/Shanghai)") from None
        return value


class Zone(_Strict):
    """An area or a building of the community."""

    name: Name
    kind: Literal["zone", "building"] = "zone"


class DeviceRef(_Strict):
    """A device as its gateway names it."""

    gateway: GatewayId
    device: str = Field(min_length=1, max_length=128, description="the device's id")


class Facility(_Strict):
    """What a resident or maintainer calls a thing (the east gate, lift 2 of building 5)."""

    name: Name
    zone: Slug | None = Field(default=None, description="the zone or building it is in")
    category: str = Field(
        default="other", min_length=1, max_length=64, description="access, lighting, water..."
    )
    devices: tuple[DeviceRef, ...] = Field(default=(), description="the devices it is made of")


class Gateway(_Strict):
    """A gateway of the community: only gateways provisioned are heard."""

    name: str = Field(default="", max_length=200, description="what people call it")
    zone: Slug | None = Field(default=None, description="the zone or building it stands in")
    new_devices: Literal["unassigned", "own-facility"] = Field(
        default="unassigned",
        description="what a device of it that no facility lists becomes when first heard "
        "from: unassigned (its readings kept, no tickets) until bound to a facility, or a "
        "facility of its own in the gateway's zone",
    )


NoticeKind = Literal[
    "opened",
    "assigned",
    "acknowledged",
    "started",
    "held",
    "resolved",
    "verified",
    "confirmed",
    "reopened",
    "cancelled",
    "sla_warning",
    "sla_breached",
    "escalated",
    "reminded",
    "resident_report",
    "resident_me_too",
]
"""The kinds of ticket event Linli notifies of (``docs/repair-loop.md``, Notifications)."""


class Channels(_Strict):
    """How a person hears of the ticket events that concern them (which do is the cloud's
    rule: their tickets' assignments, warnings and reminders; escalations that name them;
    new tickets, for supervisors and property managers)."""

    email: bool = Field(default=True, description="by e-mail to their address (when they have one)")
    mqtt: bool = Field(
        default=False,
        description="pushed over MQTT to linli/community/<community>/people/<person>/notices/"
        "<kind> (an app on their phone subscribes to it)",
    )
    kinds: tuple[NoticeKind, ...] | None = Field(
        default=None,
        max_length=50,
        description="only these kinds of event; none: every kind that concerns them",
    )


class Person(_Strict):
    """Someone who works in the community (accounts and passwords are not in the file)."""

    name: Name
    role: Role
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ()-]{3,32}$")
    skills: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = Field(
        default=(), description="what they repair: electrical, plumbing, mechanical..."
    )
    zones: tuple[Slug, ...] = Field(
        default=(), description="the zones they work in (maintainers: the zones they see)"
    )
    duty: Slug | None = Field(
        default=None,
        description="the calendar of their duty hours: tickets are assigned to maintainers "
        "on duty; none: always on duty",
    )
    channels: Channels | None = Field(
        default=None,
        description="how they hear of ticket events (e-mail, MQTT push, which kinds); none: "
        "as they set it themselves through the API, else by e-mail, every kind",
    )


class Calendar(_Strict):
    """When business time runs: hours per weekday (in the community's time zone), holidays."""

    hours: dict[Weekday, str] = Field(
        default_factory=dict, description="per weekday, HH:MM-HH:MM; a day not named is closed"
    )
    holidays: tuple[date, ...] = ()

    @field_validator("hours")
    @classmethod
    def _spans(cls, value: dict[str, str]) -> dict[str, str]:
        for day, span in value.items():
            opening = hours_of(span)
            if opening is None:
                raise ValueError(f"{day}: {span!r} is not HH:MM-HH:MM, opening before closing")
        return value


class SlaTargets(_Strict):
    """How soon a ticket must be acknowledged (its response) and resolved."""

    acknowledge_within: Duration
    resolve_within: Duration

    @model_validator(mode="after")
    def _in_order(self) -> SlaTargets:
        if self.acknowledge_within > self.resolve_within:
            raise ValueError("acknowledge_within must not be longer than resolve_within")
        return self


class SlaClass(SlaTargets):
    """How soon a ticket of this class must be acknowledged and resolved, per priority where
    they differ, in which hours, and how long a repair must hold."""

    calendar: Slug | None = Field(
        default=None, description="the calendar its time counts by; none: around the clock"
    )
    priorities: dict[Literal["low", "normal", "high", "urgent"], SlaTargets] = Field(
        default_factory=dict, description="targets of the tickets of one priority that differ"
    )
    reopen_within: Duration = Field(
        default=7 * 86400.0,
        description="a fault back this long after its ticket closed reopens the ticket (a "
        "repeat failure); later, a new ticket opens",
    )


class PreventivePlan(_Strict):
    """Preventive maintenance by the calendar: every facility of a category is serviced
    every so often (beside the profiles' usage counters, which count cycles or hours)."""

    title: Name
    category: str = Field(
        min_length=1, max_length=64, description="the facilities it is for, by their category"
    )
    every: Duration = Field(description="how long after a service the next falls due")
    skill: str = Field(min_length=1, max_length=64, description="the skill the service needs")
    sla: Slug = Field(default="standard", description="the SLA class its tickets are measured by")
    priority: Literal["low", "normal", "high", "urgent"] = "normal"

    @field_validator("every")
    @classmethod
    def _at_least_a_day(cls, value: float) -> float:
        if value < 86400:
            raise ValueError("preventive maintenance comes every day at the most often")
        return value


PlanSlug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")]
_Priority = Literal["low", "normal", "high", "urgent"]


class Grouping(_Strict):
    """Facilities of a category in one zone failing together: from ``at_least`` of them
    within ``within`` on, one zone ticket lists them instead of a ticket each."""

    title: Name = Field(description="the zone ticket's title")
    category: str = Field(
        min_length=1, max_length=64, description="the facilities it groups, by their category"
    )
    zone: Slug | None = Field(
        default=None, description="the zone it watches; none: each zone on its own"
    )
    faults: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = Field(
        default=(), description="the faults it groups; none: every fault the data shows"
    )
    at_least: int = Field(ge=2, le=10_000, description="how many facilities make a zone ticket")
    within: Duration = Field(description="how close together their faults must start")
    skill: str = Field(
        default="electrical", min_length=1, max_length=64, description="the skill it needs"
    )
    sla: Slug = Field(default="urgent", description="the SLA class it is measured by")
    priority: _Priority = "high"


class GatewayOffline(_Strict):
    """When a gateway not heard from is down, and the one ticket that opens for it (its
    devices are then unknown, not faulty)."""

    after: Duration = Field(
        default=120.0, ge=30.0, description="how long a gateway may be silent before it is down"
    )
    skill: str = Field(
        default="general-repair",
        min_length=1,
        max_length=64,
        description="the skill its ticket needs",
    )
    sla: Slug = Field(default="urgent", description="the SLA class its ticket is measured by")
    priority: _Priority = "high"
    verify_for: Duration = Field(
        default=300.0, description="how long it must stay up after a repair for it to hold"
    )


class Site(_Strict):
    """One community, as a site file describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["linli.site/v1"] = Field(alias="schema")
    community: Community
    calendars: dict[Slug, Calendar] = {}
    sla: dict[Slug, SlaClass] = {}
    zones: dict[Slug, Zone] = {}
    gateways: dict[GatewayId, Gateway] = {}
    facilities: dict[Slug, Facility] = {}
    people: dict[Slug, Person] = {}
    preventive: dict[PlanSlug, PreventivePlan] = {}
    grouping: dict[PlanSlug, Grouping] = Field(
        default_factory=dict,
        description="facilities of a zone failing together: one zone ticket that lists them",
    )
    gateway_offline: GatewayOffline = Field(
        default_factory=GatewayOffline,
        description="a gateway not heard from: one gateway ticket, not one per device",
    )

    @model_validator(mode="after")
    def _references(self) -> Site:
        problems = site_reference_problems(self.model_dump(by_alias=True))
        if problems:
            raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {m}" for loc, m in problems))
        return self


def hours_of(span: str) -> tuple[time, time] | None:
    """Opening and closing of ``HH:MM-HH:MM``; None if it is not that, or closes first."""
    matched = _HOURS.match(span)
    if matched is None:
        return None
    h1, m1, h2, m2 = (int(part) for part in matched.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        return None
    opening = time(h1, m1)
    closing = time(23, 59, 59, 999_999) if h2 == 24 else time(h2, m2)
    return (opening, closing) if opening < closing else None


def site_reference_problems(plain: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Names in a site file that point to nothing it defines, and a device bound to two
    facilities: (location, message) each."""
    problems: list[tuple[tuple[str | int, ...], str]] = []

    def names(section: str) -> set[str]:
        found = plain.get(section)
        return set(found) if isinstance(found, dict) else set()

    zones, gateways, calendars = names("zones"), names("gateways"), names("calendars")

    def entries(section: str) -> list[tuple[str, dict[str, Any]]]:
        found = plain.get(section)
        if not isinstance(found, dict):
            return []
        return [(key, value) for key, value in found.items() if isinstance(value, dict)]

    bound: dict[tuple[str, str], str] = {}
    for key, facility in entries("facilities"):
        zone = facility.get("zone")
        if zone is not None and zone not in zones:
            problems.append((("facilities", key, "zone"), _unknown("zone", zone, zones)))
        devices = facility.get("devices")
        for n, device in enumerate(devices if isinstance(devices, list | tuple) else ()):
            if not isinstance(device, dict):
                continue
            gateway, name = device.get("gateway"), device.get("device")
            where: tuple[str | int, ...] = ("facilities", key, "devices", n)
            if gateway not in gateways:
                problems.append(((*where, "gateway"), _unknown("gateway", gateway, gateways)))
            other = bound.get((str(gateway), str(name)))
            if other is None:
                bound[(str(gateway), str(name))] = key
            elif other == key:
                problems.append(((*where, "device"), f"{gateway}/{name} is listed twice"))
            else:
                problems.append(
                    ((*where, "device"), f"{gateway}/{name} is a device of facility {other} too")
                )
    for key, gateway in entries("gateways"):
        zone = gateway.get("zone")
        if zone is not None and zone not in zones:
            problems.append((("gateways", key, "zone"), _unknown("zone", zone, zones)))
    for key, person in entries("people"):
        listed = person.get("zones")
        for n, zone in enumerate(listed if isinstance(listed, list | tuple) else ()):
            if zone not in zones:
                problems.append((("people", key, "zones", n), _unknown("zone", zone, zones)))
        duty = person.get("duty")
        if duty is not None and duty not in calendars:
            problems.append((("people", key, "duty"), _unknown("calendar", duty, calendars)))
    for key, rule in entries("grouping"):
        zone = rule.get("zone")
        if zone is not None and zone not in zones:
            problems.append((("grouping", key, "zone"), _unknown("zone", zone, zones)))
    for key, sla in entries("sla"):
        calendar = sla.get("calendar")
        if calendar is not None and calendar not in calendars:
            problems.append((("sla", key, "calendar"), _unknown("calendar", calendar, calendars)))
    return problems


def _unknown(what: str, name: object, known: set[str]) -> str:
    listed = ", ".join(sorted(known)) or "none"
    return f"no {what} {name!r} in this file (its {what}s: {listed})"


class SiteError(IssuesError):
    """A site file is invalid; ``issues`` lists every problem found."""


def load_site(path: Path) -> Site:
    """The site in the file at ``path``; SiteError listing every problem, located."""
    try:
        document = read_mapping(path, what="a site file")
        plain = document.plain()
    except IssuesError as exc:
        raise SiteError(exc.issues) from None
    try:
        return Site.model_validate(plain)
    except ValidationError as exc:
        located = [document.issue(loc, m) for loc, m in site_reference_problems(plain)]
        issues = [i for i in document.validation_issues(exc) if i.field or not located]
        raise SiteError(sorted(issues + located, key=lambda issue: issue.line or 0)) from None


def site_text(site: Site, *, heading: str = "") -> str:
    """``site`` as a site file's YAML, durations as people write them (``4h``, ``3d``)."""
    import io

    from ruamel.yaml import YAML

    from plumbing.durations import format_duration

    document = site.model_dump(mode="json", by_alias=True, exclude_none=True)
    for sla in document.get("sla", {}).values():
        for name in ("acknowledge_within", "resolve_within"):
            sla[name] = format_duration(sla[name])
    yaml = YAML()
    yaml.default_flow_style = False
    out = io.StringIO()
    if heading:
        out.write(f"# {heading}\n")
    yaml.dump(document, out)
    return out.getvalue()
