"""Public shapes of what the operator looks after: data gaps and dead letters."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cloud.api.schemas.common import _Public
from cloud.db.models import DeadLetter
from plumbing.payloads import BASE64, TEXT, payload_fields


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
