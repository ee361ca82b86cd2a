"""Public shapes of the register: communities, zones, facilities, devices, gateways,
people, calendars."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.api.schemas.common import ID_MAX, Status, _Public
from cloud.db.models import NewDevices
from device_profiles import Health


class DevicePublic(_Public):
    id: int = Field(description="the device's id in the cloud (the `device_pk` of paths)")
    gateway_id: str = Field(description="the gateway it is behind")
    device_id: str = Field(description="the device as its gateway names it")
    facility_id: int | None = Field(
        description="the facility it belongs to; null: unassigned (heard from, not yet bound)"
    )
    device_type: str = Field(description="what kind of device it is (its profile's type)")
    profile: str = Field(description="the device profile its readings are judged by")
    profile_version: str = Field(description="the profile version of its latest reading")
    health: Health = Field(description="ok, degraded or faulty, by its active faults")
    status: Status = Field(
        default="ok",
        description="what can be said of it now: its health, or unknown while its gateway "
        "is offline (its data cannot come; the gateway's ticket is the repair)",
    )
    status_reason: str | None = Field(
        default=None, description="why it is unknown: `gateway offline`; null otherwise"
    )
    faults: list[str] = Field(description="its active faults")
    metrics: dict[str, Any] = Field(description="its latest value of each metric")
    last_ts: datetime | None = Field(description="event time of its latest reading judged")
    last_seen_at: datetime | None = Field(description="when the cloud last stored a reading")


class FacilityPublic(_Public):
    id: int = Field(description="the facility's id")
    gateway_id: str | None = Field(
        description="the gateway whose device made it a facility of its own; null: one the "
        "register names (a site file or the API)"
    )
    code: str = Field(description="its id in its community's site file (or its device's id)")
    name: str = Field(description="what residents and maintainers call it")
    category: str = Field(description="access, lighting, water...")
    community_id: int | None = Field(
        description="its community; null while its gateway is not provisioned"
    )
    zone_id: int | None = Field(description="the zone or building it is in")
    health: Health = Field(description="as healthy as its worst device")
    status: Status = Field(
        default="ok",
        description="what can be said of it now: its health, or unknown while every device "
        "of it is behind a gateway that is offline",
    )
    status_reason: str | None = Field(
        default=None, description="why it is unknown: `gateway offline`; null otherwise"
    )
    health_since: datetime = Field(description="when its health last changed")
    archived_at: datetime | None = Field(
        default=None, description="when it was taken out of use; null: in use"
    )
    open_tickets: int = Field(
        default=0,
        description="its tickets not yet closed or cancelled, and the zone tickets listing it",
    )
    devices: list[str] = Field(default=[], description="its devices, as their gateways name them")


class GatewayPublic(_Public):
    id: str = Field(description="the gateway's id, as it names itself in MQTT topics")
    community_id: int | None = Field(
        description="the community it is provisioned for; null: heard from, never provisioned"
    )
    name: str = Field(description="what people call it")
    zone_id: int | None = Field(description="the zone or building it is in")
    new_devices: NewDevices = Field(
        description="what a device of it no binding names becomes when first heard from: "
        "unassigned, or a facility of its own (own-facility)"
    )
    provisioned_at: datetime | None = Field(description="when it was provisioned")
    retired_at: datetime | None = Field(
        description="when it was retired (its batches are no longer taken); null: in service"
    )
    online: bool = Field(description="whether its last status said it is online")
    status_at: datetime | None = Field(description="when it last sent a status")
    online_since: datetime | None = Field(description="when it last came online")
    counters: dict[str, int] = Field(description="its own counters, as its last status gave them")
    epoch: str | None = Field(description="its current epoch (of the batches it sends)")
    last_seq: int | None = Field(description="the highest batch sequence stored in that epoch")
    first_seen_at: datetime = Field(description="when the cloud first heard of it")


class UnknownGatewayPublic(_Public):
    """A gateway heard from without being provisioned (or after being retired): what it sent
    was not taken."""

    id: str = Field(description="the id it sent under")
    first_seen_at: datetime = Field(description="when it was first heard from")
    last_seen_at: datetime = Field(description="when it was last heard from")
    batches: int = Field(description="batches refused (every try of a batch counts)")
    readings: int = Field(description="readings in those batches")
    statuses: int = Field(description="status messages ignored")
    reason: Literal["unknown", "retired"] = Field(
        description="unknown: never provisioned; retired: provisioned once, now retired"
    )


class CommunityPublic(_Public):
    id: int = Field(description="the community's id")
    slug: str = Field(description="its id in site files")
    name: str = Field(description="what it is called")
    time_zone: str = Field(description="its IANA time zone (Asia/Shanghai)")
    address: str = Field(description="its postal address")
    archived_at: datetime | None = Field(
        default=None, description="when it was archived; null: in use"
    )


class ZonePublic(_Public):
    id: int = Field(description="the zone's id")
    community_id: int = Field(description="its community")
    slug: str = Field(description="its id in site files")
    name: str = Field(description="what it is called")
    kind: str = Field(description="zone or building")
    archived_at: datetime | None = Field(
        default=None, description="when it was archived; null: in use"
    )


class PersonPublic(_Public):
    id: int = Field(description="the person's id")
    community_id: int = Field(description="the community they work in")
    slug: str = Field(description="their id in site files")
    name: str = Field(description="their name")
    role: str = Field(description="property_manager, supervisor or maintainer")
    email: str | None = Field(description="their e-mail address")
    phone: str | None = Field(description="their phone number")
    skills: list[str] = Field(description="what they repair: electrical, plumbing...")
    zone_ids: list[int] = Field(description="the zones they work in")
    duty_calendar_id: int | None = Field(
        default=None,
        description="the calendar of their duty hours (one of the community's); null: always "
        "on duty. Dispatch assigns tickets only to maintainers on duty",
    )
    open_tickets: int = Field(
        default=0,
        description="their current load: tickets assigned to them and not yet repaired "
        "(assigned, acknowledged, in_progress, on_hold)",
    )
    username: str | None = Field(
        default=None, description="the user name they log in with; null: no account"
    )
    archived_at: datetime | None = Field(
        default=None, description="when they were archived (their account disabled)"
    )


class DeviceMoveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facility_id: int = Field(ge=1, le=ID_MAX, description="the facility it belongs to now")


class DeviceMovePublic(_Public):
    device_pk: int = Field(description="the device's id in the cloud")
    from_facility_id: int | None = Field(description="where it was; null: unassigned")
    to_facility_id: int | None = Field(description="where it is now; null: unbound")
    at: datetime = Field(description="when it was moved")
    actor: str = Field(description="who moved it: a user name or token:<name>")


class CalendarPublic(_Public):
    id: int = Field(description="the calendar's id")
    community_id: int = Field(description="its community")
    slug: str = Field(description="its name in site files")
    hours: dict[str, str] = Field(
        description="opening hours per weekday (mon…sun) as HH:MM-HH:MM, in the community's "
        "time zone; a day not named is closed"
    )
    holidays: list[str] = Field(description="closed dates, ISO")
