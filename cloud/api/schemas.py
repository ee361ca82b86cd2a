"""Public shapes of API resources (what clients see), per resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.db.models import DeadLetter, NewDevices, TicketState
from device_profiles import Health, Priority
from plumbing.payloads import BASE64, TEXT, payload_fields

NO_NUL = r"^[^\x00]*$"
"""The pattern of text without NUL characters, which PostgreSQL does not store (nor compare)."""


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


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
    health_since: datetime = Field(description="when its health last changed")
    archived_at: datetime | None = Field(
        default=None, description="when it was taken out of use; null: in use"
    )
    open_tickets: int = Field(default=0, description="its tickets not resolved yet")
    devices: list[str] = Field(default=[], description="its devices, as their gateways name them")


class TicketEventPublic(_Public):
    at: datetime = Field(description="when it happened")
    kind: str = Field(description="opened, repeated, fault_cleared, acknowledged, resolved, ...")
    note: str = Field(description="what was said or done")
    item_id: str | None = Field(description="the reading that caused it, if a reading did")
    actor: str | None = Field(description="who did it: a user name or token:<name>; null: Linli")


class TicketPublic(_Public):
    id: int = Field(description="the ticket's id")
    facility_id: int = Field(description="the facility that needs repair")
    facility_name: str = Field(description="its name")
    device_id: str = Field(
        description="the device that reported the fault, as its gateway names it"
    )
    fault: str = Field(description="the fault, as the device's profile names it")
    title: str = Field(description="what is wrong, in a line")
    severity: str = Field(description="how bad the fault is, as the profile says")
    priority: Priority = Field(description="how soon it must be handled")
    skill: str = Field(description="the skill the repair needs")
    sla: str = Field(description="the SLA class it is measured by")
    state: TicketState = Field(description="open, acknowledged or resolved")
    occurrences: int = Field(description="how often the fault was raised while it was open")
    opened_at: datetime = Field(description="when it was opened")
    last_seen_at: datetime = Field(description="when the fault was last reported")
    fault_cleared_at: datetime | None = Field(description="when the device last reported it gone")
    acknowledged_at: datetime | None = Field(description="when someone took it on")
    resolved_at: datetime | None = Field(description="when it was resolved")


class TicketDetail(TicketPublic):
    events: list[TicketEventPublic] = Field(description="what happened to it, oldest first")


class TicketTransition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(
        default="", max_length=2000, pattern=NO_NUL, description="what was done or seen"
    )


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


class DataGapPublic(_Public):
    """Readings a gateway had to drop, as it reported them (a data-gap record)."""

    id: str = Field(description="the record's id, as its gateway made it")
    gateway_id: str = Field(description="the gateway that dropped the readings")
    device_id: str = Field(description="the device as its gateway names it")
    first_ts: datetime = Field(description="event time of the earliest reading dropped")
    last_ts: datetime = Field(description="event time of the latest reading dropped")
    items: int = Field(description="readings dropped")
    reason: str = Field(description="disk_budget or disk_full")
    epoch: str = Field(description="epoch of the batch that brought the record")
    seq: int = Field(description="sequence number of the batch that brought the record")
    received_at: datetime = Field(description="when the cloud stored the record")


class DeadLetterPublic(BaseModel):
    id: int = Field(description="the dead letter's id")
    at: datetime = Field(description="when ingest refused it")
    topic: str = Field(description="the MQTT topic it came on")
    gateway_id: str | None = Field(description="the gateway the topic names, if any")
    category: str = Field(description="invalid, gateway, topic, error (or unknown)")
    reason: str = Field(description="why it was not taken")
    size: int = Field(description="payload size in bytes")
    payload: str | None = Field(description="the whole payload, when it is UTF-8 text")
    payload_b64: str | None = Field(description="the whole payload in base64, when it is not")
    replayed_at: datetime | None = Field(description="when a replay stored it; null: waiting")
    replay_result: str | None = Field(description="what the last replay did")

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterPublic:
        kept = payload_fields(letter.payload)
        return cls(
            id=letter.id,
            at=letter.at,
            topic=letter.topic,
            gateway_id=letter.gateway_id,
            category=letter.category,
            reason=letter.reason,
            size=len(letter.payload),
            payload=kept.get(TEXT),
            payload_b64=kept.get(BASE64),
            replayed_at=letter.replayed_at,
            replay_result=letter.replay_result,
        )


class Problem(BaseModel):
    """What went wrong, as every answer of 400 and above says it."""

    detail: str = Field(description="what went wrong, in a sentence a person can read")
    errors: list[dict[str, Any]] | None = Field(
        default=None,
        description="422 for a request not valid: each problem, with `loc` (where: body, "
        "query or path, then the field), `msg` and `type`",
    )


class TelemetryReading(BaseModel):
    """A raw reading's value of the metric."""

    t: datetime = Field(description="its event time")
    value: float | bool | str = Field(description="the metric's value")


class TelemetryBucket(BaseModel):
    """The metric over ``[t, t + step)``."""

    t: datetime = Field(description="start of the bucket")
    count: int = Field(description="readings in the bucket")
    min: float | None = Field(default=None, description="numbers: the lowest reading")
    max: float | None = Field(default=None, description="numbers: the highest reading")
    mean: float | None = Field(default=None, description="numbers: the mean of the readings")
    share: float | None = Field(
        default=None,
        description="booleans: the fraction of the bucket's known time the value was true "
        "(time-weighted: readings come on change)",
    )
    shares: dict[str, float] | None = Field(
        default=None,
        description="states: for each value, the fraction of the bucket's known time it held",
    )
    covered_s: float = Field(description="states: seconds of the bucket a value was known for")
    last: float | bool | str | None = Field(description="the value in force at the bucket's end")


class TelemetrySeries(BaseModel):
    """One metric of one device over a span: raw readings, or buckets of ``step`` seconds."""

    device_id: int = Field(description="the device's id in the cloud")
    metric: str = Field(description="the metric, as the device's profile names it")
    kind: Literal["number", "state"] = Field(description="numbers, or states (booleans, enums)")
    unit: str | None = Field(description="the metric's unit, if it has one")
    start: datetime = Field(serialization_alias="from", description="where the span starts")
    end: datetime = Field(serialization_alias="to", description="where the span ends")
    resolution: Literal["raw", "1m", "1h"] = Field(
        description="what the series is built from: raw readings, 1-minute or 1-hour roll-ups"
    )
    step: int | None = Field(description="bucket width in seconds; null for raw readings")
    store: str = Field(description="the telemetry store: sql or influxdb")
    readings: list[TelemetryReading] = Field(default=[], description="raw readings, oldest first")
    buckets: list[TelemetryBucket] = Field(default=[], description="buckets, oldest first")


ID_MAX = 2**31 - 1
"""The largest id a path or query may name: what every engine's integer key holds."""


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
