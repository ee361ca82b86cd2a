"""Public shapes of API resources (what clients see), per resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.db.models import DeadLetter, NewDevices, TicketState
from cloud.repair.lifecycle import Move
from device_profiles import Health, Priority
from plumbing.payloads import BASE64, TEXT, payload_fields

NO_NUL = r"^[^\x00]*$"
"""The pattern of text without NUL characters, which PostgreSQL does not store (nor compare)."""


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Status = Literal["ok", "degraded", "faulty", "unknown"]
GATEWAY_OFFLINE = "gateway offline"


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


class TicketEventPublic(_Public):
    at: datetime = Field(description="when it happened")
    kind: str = Field(
        description="opened, repeated, fault_cleared; a move: assigned, acknowledged, started, "
        "held, resolved, verified, confirmed, reopened, cancelled; self_test (the device was "
        "asked to test itself); sla_warning, sla_breached, escalated, reminded"
    )
    note: str = Field(description="what was said or done")
    item_id: str | None = Field(description="the reading that caused it, if a reading did")
    actor: str | None = Field(description="who did it: a user name or token:<name>; null: Linli")
    actor_kind: str = Field(
        description="what kind of actor: person, token, rule (Linli itself) or resident"
    )
    evidence: dict[str, Any] | None = Field(
        description="what it rests on: the reading that reopened it, whom it was assigned to "
        '(`assignee_id`, `assignee`), whom an escalation went to (`{"level": ..., "to": '
        '[{"person_id", "name", "role"}]}`), the self-test command sent'
    )


Escalation = Literal["maintainer", "supervisor", "property_manager"]
ESCALATIONS: tuple[Escalation, ...] = ("maintainer", "supervisor", "property_manager")
"""The ``escalation`` of a ticket by its level (0, 1, 2)."""


class TicketPublic(_Public):
    id: int = Field(description="the ticket's id")
    scope: Literal["facility", "zone", "gateway"] = Field(
        description="what failed: a facility; a zone whose facilities failed together (its "
        "`facilities` in the detail); a gateway gone offline (its devices are unknown then)"
    )
    name: str = Field(description="the name of what failed: the facility, zone or gateway")
    community_id: int | None = Field(description="the community of what failed")
    zone_id: int | None = Field(
        description="its zone: the facility's, the zone of a zone ticket, the gateway's"
    )
    facility_id: int | None = Field(
        description="the facility that needs repair; null for a zone's or a gateway's ticket"
    )
    facility_name: str | None = Field(description="its name")
    gateway_id: str | None = Field(description="the gateway of a gateway ticket")
    device_id: str | None = Field(
        description="the device that reported the fault, as its gateway names it; null: a "
        "ticket opened by hand for what no device reports (fault `reported`)"
    )
    profile: str | None = Field(
        default=None, description="that device's profile, which names the fault"
    )
    fault: str = Field(
        description="the fault, as the device's profile names it; `reported`: opened by hand "
        "for what no device reports"
    )
    title: str = Field(description="what is wrong, in a line")
    severity: str = Field(description="how bad the fault is, as the profile says")
    priority: Priority = Field(description="how soon it must be handled")
    skill: str = Field(description="the skill the repair needs")
    sla: str = Field(description="the SLA class it is measured by")
    state: TicketState = Field(
        description="open (nobody has it yet), assigned (to a maintainer), acknowledged (they "
        "took it on), in_progress (repair under way), on_hold (waiting: parts, access), "
        "resolved (repaired, waits for a supervisor's confirmation), verifying (repaired, "
        "waits for the facility's own data to show the fault stays away), closed (done; "
        "reopens if the fault returns within `reopen_until`), cancelled (not to be done)"
    )
    observable: bool = Field(
        description="whether the facility's data shows the fault: then a repair is verified "
        "by the data (resolve → verifying), else confirmed by a supervisor (resolve → resolved)"
    )
    linked_id: int | None = Field(
        description="the ticket opened by hand (`reported`) whose repair this one is part of"
    )
    opened_by: str | None = Field(
        description="who opened it by hand: a user name or token:<name>; null: Linli, from the data"
    )
    occurrences: int = Field(description="how often the fault was raised while it was open")
    repeats: int = Field(
        description="how often the fault came back after a repair (a repeat failure reopens it)"
    )
    assignee_id: int | None = Field(
        description="the maintainer who has it (a person's id); null: nobody yet"
    )
    assignee_name: str | None = Field(description="their name")
    opened_at: datetime = Field(description="when it was opened")
    last_seen_at: datetime = Field(description="when the fault was last reported")
    fault_cleared_at: datetime | None = Field(description="when the device last reported it gone")
    assigned_at: datetime | None = Field(description="when it was last assigned")
    acknowledged_at: datetime | None = Field(description="when its maintainer took it on")
    started_at: datetime | None = Field(description="when the repair started")
    resolved_at: datetime | None = Field(description="when its maintainer last said it is repaired")
    verify_until: datetime | None = Field(
        description="verifying: when the data will have shown the repair holds"
    )
    closed_at: datetime | None = Field(description="when it was closed")
    cancelled_at: datetime | None = Field(description="when it was cancelled")
    reopen_until: datetime | None = Field(
        description="closed: until when the fault's return reopens it (a repeat failure) "
        "rather than opening a new ticket"
    )
    respond_by: datetime | None = Field(
        description="when it must be acknowledged by, by its SLA (null until worked out)"
    )
    resolve_by: datetime | None = Field(
        description="when it must be repaired by, by its SLA (null until worked out)"
    )
    respond_breached_at: datetime | None = Field(
        description="when the response target was missed; null: not missed"
    )
    resolve_breached_at: datetime | None = Field(
        description="when the resolution target was missed; null: not missed"
    )
    escalation: Escalation = Field(
        description="how far up missed targets took it: maintainer (not escalated), "
        "supervisor, property_manager"
    )


class ResidentLinkPublic(_Public):
    facility_id: int = Field(description="the facility")
    url: str = Field(
        description="the resident page behind the facility's QR code: anyone with it may "
        "report the facility broken, with no login"
    )
    created_at: datetime = Field(description="when this link was made (rotating makes a new one)")


class TicketFacilityPublic(_Public):
    facility_id: int = Field(description="a facility of the zone that failed")
    name: str = Field(description="its name")
    profile: str | None = Field(
        default=None, description="the profile of the device that showed the fault"
    )
    fault: str = Field(description="the fault it showed")
    joined_at: datetime = Field(description="when it joined the zone ticket")
    cleared_at: datetime | None = Field(description="when its fault cleared; null: failing")


class TicketDetail(TicketPublic):
    events: list[TicketEventPublic] = Field(description="what happened to it, oldest first")
    moves: list[Move] = Field(
        description="the moves you may make on it now (`POST /tickets/{id}/{move}`): by its "
        "state and your role; a maintainer's only on a ticket of theirs, or acknowledge on an "
        "open one nobody has"
    )
    linked: list[int] = Field(
        description="the other tickets of the same repair: the ticket opened by hand it is "
        "part of, the tickets that are part of it, and theirs"
    )
    facilities: list[TicketFacilityPublic] = Field(
        description="a zone ticket: the facilities that failed together, in the order they "
        "joined; empty for the others"
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


class MaintenancePublic(_Public):
    id: int = Field(description="the window's id")
    community_id: int = Field(description="its community")
    facility_id: int | None = Field(description="the facility under maintenance; null: a zone")
    zone_id: int | None = Field(description="the zone whose facilities are; null: a facility")
    starts_at: datetime = Field(description="when it begins")
    ends_at: datetime = Field(description="when it ends (by itself, or when someone ended it)")
    reason: str = Field(description="what is being done")
    created_by: str = Field(description="who set it")
    created_at: datetime = Field(description="when it was set")
    ended_by: str | None = Field(description="who ended it before its time; null: nobody")
    settled_at: datetime | None = Field(
        description="when, after its end, what was still faulty opened its tickets; null: not "
        "yet (it has not ended, or the next repair round will)"
    )


MtbfStatus = Literal["measured", "no_failure", "no_interval"]
_MTBF_STATUS = (
    "measured (there are intervals between failures), no_failure (nothing failed in the "
    "period: not an infinite MTBF), no_interval (it failed, but never came back up and "
    "failed again within the period)"
)


class RepairTimesPublic(_Public):
    """MTTR: from the fault's start to the recovery the data saw, over repairs closed in the
    period."""

    repairs: int = Field(
        description="repair cycles closed in the period (verified by the data or confirmed "
        "by a supervisor); a reopened ticket has one cycle per failure; cancelled ones never "
        "count"
    )
    verified: int = Field(description="of them, closed by the facility's own data")
    confirmed: int = Field(
        description="of them, closed on a supervisor's word: not data-verified (their "
        "recovery is the maintainer's resolve)"
    )
    mttr_s: float | None = Field(
        description="mean time to repair in seconds: from the fault's start (the reading "
        "that raised it, or the one that reopened a closed ticket) to its recovery (when the "
        "data last saw the fault clear before verification, else the resolve); null: no "
        "repair closed in the period"
    )
    mttr_verified_s: float | None = Field(
        description="the same over the data-verified repairs only; null: none"
    )


class UptimePublic(_Public):
    """MTBF: the up time from a recovery to the next fault start of the same facility."""

    failures: int = Field(
        description="fault starts in the period: tickets opened, and closed tickets reopened "
        "because the fault came back (not cancelled ones)"
    )
    facilities_failed: int = Field(description="facilities with a failure in the period")
    facilities_without_failure: int = Field(description="facilities with no failure in the period")
    intervals: int = Field(
        description="up intervals measured: from a recovery to the same facility's next "
        "fault start, both in the period"
    )
    mtbf_s: float | None = Field(
        description="mean time between failures in seconds: the mean of those intervals "
        "(over every facility here); null: none measured (see `status`)"
    )
    status: MtbfStatus = Field(description=_MTBF_STATUS)


class SlaTargetPublic(_Public):
    due: int = Field(
        description="tickets whose target counts in the period: met in it (done by its "
        "deadline, never breached), or missed in it (its deadline fell due in it unmet or "
        "met late, or it was breached in it)"
    )
    met: int = Field(description="of them, those that met it")
    compliance: float | None = Field(description="met / due, 0 to 1; null: none due")


class CompliancePublic(_Public):
    """SLA compliance: tickets that met their response and resolution targets."""

    tickets: int = Field(description="tickets with a target that counts in the period")
    met: int = Field(description="of them, those that met every target that counts")
    compliance: float | None = Field(description="met / tickets, 0 to 1; null: none")
    respond: SlaTargetPublic = Field(
        description="the response target: acknowledged (or started, or resolved) by "
        "`respond_by`, never breached"
    )
    resolve: SlaTargetPublic = Field(
        description="the resolution target: resolved by `resolve_by`, never breached"
    )


class RepeatsPublic(_Public):
    """Repeat failures: a fault back after its repair reopens the ticket."""

    tickets: int = Field(description="tickets reopened in the period")
    repeats: int = Field(description="reopenings in the period, in all")


class FacilityFailuresPublic(_Public):
    """A facility's failures in the period."""

    facility_id: int = Field(description="the facility's id")
    code: str = Field(description="its id in its community's site file")
    name: str = Field(description="what it is called")
    category: str = Field(description="access, lighting, water...")
    zone_id: int | None = Field(description="the zone or building it is in")
    tickets: int = Field(description="tickets opened for it in the period (not cancelled)")
    failures: int = Field(
        description="its fault starts in the period: tickets opened and reopened after a closure"
    )
    repeats: int = Field(description="its tickets' reopenings in the period")
    down_s: float = Field(
        description="seconds of the period (up to now) it was down: from a fault start to "
        "its recovery"
    )
    mtbf_s: float | None = Field(description="its mean time between failures in seconds")
    status: MtbfStatus = Field(description=_MTBF_STATUS)


class RepairFigureSet(_Public):
    """The repair figures of a set of facilities over a period (definitions: docs/figures.md)."""

    facilities: int = Field(description="facilities counted: in use during the period")
    tickets: int = Field(description="tickets opened in the period (not cancelled)")
    cancelled: int = Field(
        description="tickets cancelled in the period: they count in no other figure"
    )
    mttr: RepairTimesPublic = Field(description="mean time to repair")
    mtbf: UptimePublic = Field(description="mean time between failures")
    sla: CompliancePublic = Field(description="SLA compliance")
    repeats: RepeatsPublic = Field(description="repeat failures")
    most_failing: list[FacilityFailuresPublic] = Field(
        description="the facilities that fail most: by failures, then down time; at most "
        "`top`, only those that failed"
    )


class FigureGroup(_Public):
    """Which group figures are of (repair and utilisation figures alike)."""

    key: str = Field(
        description="the group: a community's, zone's or facility's id (`none`: of none), or "
        "a category"
    )
    name: str = Field(description="the community's, zone's, category's or facility's name")


class FigureScope(_Public):
    """What figures were asked for (repair and utilisation figures alike)."""

    community_id: int | None = Field(
        description="the community they are of; null: every community you see"
    )
    zone_id: int | None = Field(description="only facilities of this zone; null: every zone")
    category: str | None = Field(description="only facilities of this category; null: all")
    start: datetime = Field(serialization_alias="from", description="the period's start")
    end: datetime = Field(
        serialization_alias="to",
        description="the period's end (not included); not after `from`: an empty period, "
        "every figure zero",
    )
    group_by: Literal["community", "zone", "category", "facility"] | None = Field(
        description="how `groups` are made; null: no groups"
    )


class RepairFigureGroup(RepairFigureSet, FigureGroup):
    pass


class RepairFigures(RepairFigureSet, FigureScope):
    """Repair figures of the caller's community (or the one an operator chose), filtered by
    zone and category, over a period; with ``group_by``, per group as well."""

    groups: list[RepairFigureGroup] = Field(
        description="the same figures per community, zone, category or facility, by name"
    )


class CalendarPublic(_Public):
    id: int = Field(description="the calendar's id")
    community_id: int = Field(description="its community")
    slug: str = Field(description="its name in site files")
    hours: dict[str, str] = Field(
        description="opening hours per weekday (mon…sun) as HH:MM-HH:MM, in the community's "
        "time zone; a day not named is closed"
    )
    holidays: list[str] = Field(description="closed dates, ISO")


class WebhookPublic(_Public):
    id: int = Field(description="the webhook's id")
    community_id: int = Field(description="the community whose ticket events it takes")
    name: str = Field(description="what it is for")
    url: str = Field(description="where ticket events are POSTed")
    kinds: list[str] = Field(description="the kinds of ticket event it takes; empty: all")
    created_by: str = Field(description="who made it")
    created_at: datetime = Field(description="when it was made")
    archived_at: datetime | None = Field(
        default=None, description="when it was archived (nothing is sent to it since); null: in use"
    )


class WebhookIssued(WebhookPublic):
    secret: str = Field(
        description="the secret its deliveries are signed with (Linli-Signature): shown this "
        "once, never again"
    )


DeliveryState = Literal["pending", "delivered", "dead"]


class DeliveryPublic(_Public):
    id: int = Field(description="the delivery's id")
    key: str = Field(
        description="its idempotency key, `<event id>:<channel>:<target>`, sent with every "
        "attempt (Linli-Delivery, Message-ID, `delivery` in MQTT payloads)"
    )
    channel: str = Field(description="webhook, email or mqtt")
    target: str = Field(description="the webhook's id, `person-<id>`, or `community`")
    community_id: int | None = Field(description="its community")
    webhook_id: int | None = Field(description="the webhook it goes to")
    person_id: int | None = Field(description="the person it goes to")
    address: str = Field(description="the e-mail address or MQTT topic (a webhook's: its url)")
    kind: str = Field(description="the ticket event's kind")
    ticket_id: int = Field(description="the ticket the event happened to")
    state: DeliveryState = Field(
        description="pending (not yet taken by its receiver), delivered, or dead (given up)"
    )
    attempts: int = Field(description="attempts made so far")
    next_attempt_at: datetime = Field(description="when it is (or was) tried next")
    delivered_at: datetime | None = Field(description="when its receiver took it")
    dead_at: datetime | None = Field(description="when it was given up after its last attempt")
    last_error: str = Field(description="why its last attempt failed; empty: none did")
    created_at: datetime = Field(description="when the event was fanned out into it")


class ChannelsPublic(BaseModel):
    person_id: int = Field(description="whose channels")
    email: bool = Field(description="by e-mail (to `email_address`)")
    mqtt: bool = Field(description="pushed over MQTT, on `mqtt_topics`")
    kinds: list[str] | None = Field(
        description="only these kinds of ticket event; null: every kind that concerns them"
    )
    email_address: str | None = Field(
        description="their e-mail address; null: none, so e-mail cannot reach them"
    )
    mqtt_topics: str = Field(
        description="the MQTT topic filter their notices are pushed on (`+`: any kind)"
    )
