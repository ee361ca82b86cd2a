"""Public shapes of API resources (what clients see), per resource."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.db.models import DeadLetter, TicketState
from device_profiles import Health, Priority
from plumbing.payloads import BASE64, TEXT, payload_fields


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DevicePublic(_Public):
    id: int
    gateway_id: str
    device_id: str
    facility_id: int
    device_type: str
    profile: str
    profile_version: str
    health: Health
    faults: list[str]
    metrics: dict[str, Any]
    last_ts: datetime | None
    last_seen_at: datetime | None


class FacilityPublic(_Public):
    id: int
    gateway_id: str | None
    code: str
    name: str
    category: str
    community_id: int | None
    zone_id: int | None
    health: Health
    health_since: datetime
    open_tickets: int = 0
    devices: list[str] = []


class TicketEventPublic(_Public):
    at: datetime
    kind: str
    note: str
    item_id: str | None
    actor: str | None = Field(description="who did it: a user name or token:<name>; null: Linli")


class TicketPublic(_Public):
    id: int
    facility_id: int
    facility_name: str
    device_id: str
    fault: str
    title: str
    severity: str
    priority: Priority
    skill: str
    sla: str
    state: TicketState
    occurrences: int
    opened_at: datetime
    last_seen_at: datetime
    fault_cleared_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None


class TicketDetail(TicketPublic):
    events: list[TicketEventPublic]


class TicketTransition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000, description="what was done or seen")


class GatewayPublic(_Public):
    id: str
    online: bool
    status_at: datetime | None
    online_since: datetime | None
    counters: dict[str, int]
    epoch: str | None
    last_seq: int | None
    first_seen_at: datetime


class DataGapPublic(_Public):
    """Readings a gateway had to drop, as it reported them (a data-gap record)."""

    id: str
    gateway_id: str
    device_id: str = Field(description="the device as its gateway names it")
    first_ts: datetime = Field(description="event time of the earliest reading dropped")
    last_ts: datetime = Field(description="event time of the latest reading dropped")
    items: int = Field(description="readings dropped")
    reason: str = Field(description="disk_budget or disk_full")
    epoch: str = Field(description="epoch of the batch that brought the record")
    seq: int = Field(description="sequence number of the batch that brought the record")
    received_at: datetime = Field(description="when the cloud stored the record")


class DeadLetterPublic(BaseModel):
    id: int
    at: datetime
    topic: str
    gateway_id: str | None = Field(description="the gateway the topic names, if any")
    category: str = Field(description="invalid, gateway, topic, error (or unknown)")
    reason: str
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
    detail: str


class TelemetryReading(BaseModel):
    """A raw reading's value of the metric."""

    t: datetime
    value: float | bool | str


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

    device_id: int
    metric: str
    kind: Literal["number", "state"]
    unit: str | None
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    resolution: Literal["raw", "1m", "1h"] = Field(
        description="what the series is built from: raw readings, 1-minute or 1-hour roll-ups"
    )
    step: int | None = Field(description="bucket width in seconds; null for raw readings")
    store: str = Field(description="the telemetry store: sql or influxdb")
    readings: list[TelemetryReading] = []
    buckets: list[TelemetryBucket] = []


ID_MAX = 2**31 - 1
"""The largest id a path or query may name: what every engine's integer key holds."""


class CommunityPublic(_Public):
    id: int
    slug: str = Field(description="its id in site files")
    name: str
    time_zone: str
    address: str


class ZonePublic(_Public):
    id: int
    community_id: int
    slug: str
    name: str
    kind: str = Field(description="zone or building")


class PersonPublic(_Public):
    id: int
    community_id: int
    slug: str
    name: str
    role: str = Field(description="property_manager, supervisor or maintainer")
    email: str | None
    phone: str | None
    skills: list[str]
    zone_ids: list[int] = Field(description="the zones they work in")


class DeviceMoveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facility_id: int = Field(ge=1, le=ID_MAX, description="the facility it belongs to now")


class DeviceMovePublic(_Public):
    device_pk: int
    from_facility_id: int
    to_facility_id: int
    at: datetime
    actor: str
