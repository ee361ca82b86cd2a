"""Request bodies of the register's writes — what creates a community, zone, facility, gateway
or person, and what changes one — and of the tickets' (opening one by hand, moving one).
Every string and number is bounded here, so nothing unchecked reaches the database.

A change (PATCH) sets only the fields it names; a field left out, or null where null means
nothing, keeps its value. Where null has a meaning (a zone, an e-mail address), null clears it.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from cloud.access.passwords import MIN_LENGTH
from cloud.api.schemas import ID_MAX, NO_NUL
from cloud.db.models import NewDevices
from device_profiles import Priority
from device_profiles.site import NoticeKind


@cache
def time_zones() -> frozenset[str]:
    """The IANA time zones this system knows (read once, when first asked)."""
    return frozenset(available_timezones())


def _known_time_zone(value: str) -> str:
    if value not in time_zones():
        raise ValueError(f"unknown time zone {value!r} (IANA names: Asia/Shanghai)")
    return value


def _time_zones_listed(schema: dict[str, Any]) -> None:
    """The time zones as the schema's enum, so that a client knows them (and a schema-valid
    request is a valid one)."""
    if time_zones():
        schema["enum"] = sorted(time_zones())


Slug = Annotated[
    str,
    Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$",
        description="its id in site files: lower-case letters, digits, '.', '_' and '-', at "
        "most 63, starting with a letter or digit; it does not change",
    ),
]
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=NO_NUL, description="what people call it"),
]
TimeZone = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="an IANA time zone (Asia/Shanghai)",
        json_schema_extra=_time_zones_listed,
    ),
    AfterValidator(_known_time_zone),
]
Address = Annotated[str, Field(max_length=500, pattern=NO_NUL, description="the postal address")]
CommunityRef = Annotated[int, Field(ge=1, le=ID_MAX)]
ZoneRef = Annotated[
    int, Field(ge=1, le=ID_MAX, description="a zone or building of the same community")
]
ZoneKind = Literal["zone", "building"]
Category = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=NO_NUL, description="access, lighting, water..."),
]
GatewayName = Annotated[
    str, Field(max_length=200, pattern=NO_NUL, description="what people call it")
]
PersonRole = Literal["property_manager", "supervisor", "maintainer"]
_MAIL_PART = r"[^@\x00-\x20\x7f-\xa0]+"
"""no "@", no control character, no space: spelled out, as regex engines differ on whitespace"""
Email = Annotated[str, Field(max_length=254, pattern=rf"^{_MAIL_PART}@{_MAIL_PART}\.{_MAIL_PART}$")]
Phone = Annotated[str, Field(max_length=32, pattern=r"^\+?[0-9 ()-]{3,32}$")]
Skill = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
Skills = Annotated[
    list[Skill],
    Field(max_length=50, description="what they repair: electrical, plumbing, mechanical..."),
]
CalendarRef = Annotated[
    int,
    Field(
        ge=1,
        le=ID_MAX,
        description="the calendar of their duty hours, of their community; they are on duty "
        "in its opening hours (null: always)",
    ),
]
ZoneIds = Annotated[
    list[ZoneRef],
    Field(max_length=200, description="the zones they work in, all of their community"),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Change(_Body):
    _nullable: ClassVar[frozenset[str]] = frozenset()
    """fields whose null clears them (of others, null keeps the value)"""

    def changes(self) -> dict[str, Any]:
        """The fields to set, by name."""
        return {
            name: getattr(self, name)
            for name in self.model_fields_set
            if getattr(self, name) is not None or name in self._nullable
        }


class CommunityCreate(_Body):
    slug: Slug
    name: Name
    time_zone: TimeZone = "UTC"
    address: Address = ""


class CommunityChange(_Change):
    name: Name | None = Field(default=None, description="what it is called; omit to keep")
    time_zone: TimeZone | None = Field(default=None, description="IANA time zone; omit to keep")
    address: Address | None = Field(default=None, description="postal address; omit to keep")


class ZoneCreate(_Body):
    community_id: CommunityRef | None = Field(
        default=None, description="its community; default: yours (an operator must say which)"
    )
    slug: Slug
    name: Name
    kind: ZoneKind = Field(default="zone", description="a zone (an area) or a building")


class ZoneChange(_Change):
    name: Name | None = Field(default=None, description="what it is called; omit to keep")
    kind: ZoneKind | None = Field(default=None, description="zone or building; omit to keep")


class FacilityCreate(_Body):
    community_id: CommunityRef | None = Field(
        default=None, description="its community; default: yours (an operator must say which)"
    )
    code: Slug
    name: Name
    category: Category = "other"
    zone_id: ZoneRef | None = Field(
        default=None, description="the zone or building it is in, of its community"
    )


class FacilityChange(_Change):
    _nullable = frozenset({"zone_id"})

    name: Name | None = Field(default=None, description="what it is called; omit to keep")
    category: Category | None = Field(default=None, description="its category; omit to keep")
    zone_id: ZoneRef | None = Field(
        default=None, description="the zone or building it is in; null: none; omit to keep"
    )


class GatewayProvision(_Body):
    id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="the gateway's id, as it names itself in MQTT topics",
    )
    community_id: int = Field(ge=1, le=ID_MAX, description="the community it serves")
    name: GatewayName = ""
    zone_id: ZoneRef | None = Field(default=None, description="the zone or building it is in")
    new_devices: NewDevices = Field(
        default=NewDevices.UNASSIGNED,
        description="what a device of it no binding names becomes when first heard from: "
        "unassigned until bound, or a facility of its own (own-facility)",
    )


class GatewayChange(_Change):
    _nullable = frozenset({"zone_id"})

    name: GatewayName | None = Field(default=None, description="its name; omit to keep")
    zone_id: ZoneRef | None = Field(
        default=None, description="the zone or building it is in; null: none; omit to keep"
    )
    new_devices: NewDevices | None = Field(
        default=None, description="unassigned or own-facility; omit to keep"
    )


class AccountRequest(_Body):
    """A login for the person, with their role in their community."""

    username: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$",
        description="the user name they log in with: letters, digits, '.', '_', '@', '-'",
    )
    password: str = Field(
        min_length=MIN_LENGTH,
        max_length=200,
        description=f"their first password ({MIN_LENGTH} characters at least)",
    )


class PersonCreate(_Body):
    community_id: CommunityRef | None = Field(
        default=None, description="its community; default: yours (an operator must say which)"
    )
    slug: Slug
    name: Name
    role: PersonRole = Field(description="property_manager, supervisor or maintainer")
    email: Email | None = Field(default=None, description="their e-mail address")
    phone: Phone | None = Field(default=None, description="their phone number")
    skills: Skills = []
    zone_ids: ZoneIds = []
    duty_calendar_id: CalendarRef | None = Field(
        default=None,
        description="the calendar of their duty hours, of their community; null: always on duty",
    )
    account: AccountRequest | None = Field(
        default=None, description="a login account for them; none: they do not log in"
    )


class PersonChange(_Change):
    _nullable = frozenset({"email", "phone", "duty_calendar_id"})

    name: Name | None = Field(default=None, description="their name; omit to keep")
    role: PersonRole | None = Field(
        default=None, description="their role (their account's too); omit to keep"
    )
    email: Email | None = Field(default=None, description="e-mail; null: none; omit to keep")
    phone: Phone | None = Field(default=None, description="phone; null: none; omit to keep")
    skills: Skills | None = Field(default=None, description="their skills; omit to keep")
    zone_ids: ZoneIds | None = Field(
        default=None, description="the zones they work in, replacing those before; omit to keep"
    )
    duty_calendar_id: CalendarRef | None = Field(
        default=None,
        description="the calendar of their duty hours; null: always on duty; omit to keep",
    )


Note = Annotated[
    str, Field(max_length=2000, pattern=NO_NUL, description="what was done, seen or decided")
]


class TicketCreate(_Body):
    """A ticket opened by hand: a fault of one of the facility's devices (its profile's), or
    ``reported`` for what no device reports (a broken bench)."""

    facility_id: int = Field(ge=1, le=ID_MAX, description="the facility that needs repair")
    fault: str = Field(
        min_length=1,
        max_length=64,
        pattern=NO_NUL,
        description="a fault of the profile of one of its devices (`motor_jammed`), or "
        "`reported` for what no device reports",
    )
    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="what is wrong, in a line; default: the fault's title (`Reported`)",
    )
    priority: Priority | None = Field(
        default=None, description="how soon it must be handled; default: the fault's"
    )
    note: Note = ""


class TicketMoveRequest(_Body):
    note: Note = Field(
        default="",
        description="what was done, seen or decided; hold, cancel and reopen need one",
    )
    assignee_id: int | None = Field(
        default=None,
        ge=1,
        le=ID_MAX,
        description="assign: the maintainer to assign (a person's id, of the ticket's "
        "community); other moves ignore it",
    )


MAX_MAINTENANCE_S = 30 * 86400


class MaintenanceCreate(_Body):
    """A facility, or a zone's facilities, under maintenance for a while: their faults are
    recorded but open no tickets until it ends."""

    for_s: float = Field(
        ge=60,
        le=MAX_MAINTENANCE_S,
        description="how long, in seconds (a minute to 30 days); it ends by itself",
    )
    starts_in_s: float = Field(
        default=0,
        ge=0,
        le=MAX_MAINTENANCE_S,
        description="seconds from now until it begins (planned maintenance); default: now",
    )
    reason: Note = Field(default="", description="what is being done")


WebhookName = Annotated[
    str, Field(min_length=1, max_length=100, pattern=NO_NUL, description="what it is for")
]
WebhookUrl = Annotated[
    str,
    Field(
        min_length=10,
        max_length=2000,
        pattern=r"^https?://[A-Za-z0-9][A-Za-z0-9.-]{0,252}(:[0-9]{1,5})?"
        r"(/[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]*)?$",
        description="where ticket events are POSTed: an http or https URL",
    ),
]
WebhookKinds = Annotated[
    list[NoticeKind],
    Field(
        max_length=50,
        description="the kinds of ticket event it takes (opened, assigned, …); empty: all",
    ),
]


class WebhookCreate(_Body):
    """A webhook subscription of a community: its ticket events POSTed to ``url``, signed
    with a secret made for it (shown once, in the answer)."""

    community_id: CommunityRef | None = Field(
        default=None, description="its community; default: yours (an operator must say which)"
    )
    name: WebhookName
    url: WebhookUrl
    kinds: WebhookKinds = []


class WebhookChange(_Change):
    name: WebhookName | None = Field(default=None, description="its name; omit to keep")
    url: WebhookUrl | None = Field(default=None, description="its URL; omit to keep")
    kinds: WebhookKinds | None = Field(
        default=None, description="the kinds it takes (empty: all); omit to keep"
    )
