"""Linli wire protocol v1 between edge agents and the cloud (see docs/protocol.md).

Topics live under ``linli/v1/gw/{gateway_id}/``; ``up/...`` flows edge → cloud and
``down/...`` cloud → edge. Payloads are JSON encodings of the models below.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from device_profiles.decode import Decoded
from device_profiles.schema import Scalar

PREFIX = "linli/v1/gw"
GATEWAY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
EPOCH_PATTERN = r"^[0-9a-f]{8,32}$"
MAX_BATCH_ITEMS = 1000
MAX_BATCH_GAPS = 1000

GatewayId = Annotated[str, Field(pattern=GATEWAY_ID_PATTERN)]


def batch_topic(gateway_id: str) -> str:
    """Edge → cloud: batches of readings (QoS 1)."""
    return f"{PREFIX}/{gateway_id}/up/batch"


def status_topic(gateway_id: str) -> str:
    """Edge → cloud: retained gateway status; the broker publishes the last will on loss."""
    return f"{PREFIX}/{gateway_id}/up/status"


def command_topic(gateway_id: str) -> str:
    """Cloud → edge: commands to relay to devices behind the gateway."""
    return f"{PREFIX}/{gateway_id}/down/command"


def ack_topic(gateway_id: str) -> str:
    """Cloud → edge: a batch's acknowledgement, sent once the cloud committed it (QoS 1)."""
    return f"{PREFIX}/{gateway_id}/down/ack"


UP_FILTER = f"{PREFIX}/+/up/#"
"""Every edge → cloud topic."""

BATCH_FILTER = f"{PREFIX}/+/up/batch"
"""What ingest workers share (``$share/<group>/`` + this): each batch goes to one worker."""

STATUS_FILTER = f"{PREFIX}/+/up/status"
"""What every ingest worker subscribes to plainly, so retained statuses reach it at once."""

LOCAL_COMMAND_PREFIX = "linli/v1/local/cmd"


def local_command_topic(device_id: str) -> str:
    """Gateway broker: where the edge agent relays a command for one device."""
    return f"{LOCAL_COMMAND_PREFIX}/{device_id}"


def parse_up_topic(topic: str) -> tuple[str, str] | None:
    """(gateway_id, kind) of an edge → cloud topic, or None if it is not one."""
    parts = topic.split("/")
    if len(parts) != 6 or "/".join(parts[:3]) != PREFIX or parts[4] != "up":
        return None
    return parts[3], parts[5]


def new_item_id() -> str:
    """Globally unique id for an item, stamped once where the item is created."""
    return uuid.uuid4().hex


def reading_id(gateway_id: str, topic: str, payload: bytes) -> str:
    """The id of the reading a device stamped with its own time: the same for the very same
    message (gateway, topic and payload, which holds the device's timestamp), so a message
    delivered or published again becomes the same item."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (gateway_id.encode(), topic.encode(), payload):
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    return digest.hexdigest()


class Item(BaseModel):
    """One canonical reading from one device, as sent up. ``id`` makes ingest idempotent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=8, max_length=64)]
    device_id: Annotated[str, Field(min_length=1, max_length=128)]
    device_type: str
    profile: str
    profile_version: str
    ts: datetime
    received_at: datetime
    metrics: dict[str, Scalar] = {}
    faults: tuple[str, ...] = ()
    alarm: bool = Field(
        default=False,
        description="its faults differ from its device's previous item (a fault starts or "
        "clears): sent ahead of bulk telemetry",
    )
    ts_suspect: bool = Field(
        default=False,
        description="ts lay further ahead of received_at than the gateway's allowed clock "
        "skew: the device's clock is wrong, so the reading is judged by received_at",
    )

    @classmethod
    def from_decoded(
        cls,
        decoded: Decoded,
        received_at: datetime,
        *,
        alarm: bool,
        item_id: str | None = None,
        ts_suspect: bool = False,
    ) -> Item:
        return cls(
            id=item_id or new_item_id(),
            received_at=received_at,
            alarm=alarm,
            ts_suspect=ts_suspect,
            **decoded.model_dump(),
        )


Epoch = Annotated[str, Field(pattern=EPOCH_PATTERN)]

GapReason = Literal["disk_budget", "disk_full"]
"""Why a gateway dropped readings: its outbox reached its disk budget, or the disk itself
was full."""


class DataGap(BaseModel):
    """Readings of one device that a gateway had to drop, said once: a data-gap record.

    It travels in a :class:`Batch` ahead of bulk telemetry, as alarms do, and ``id`` makes
    storing it idempotent. Readings of the device stamped between ``first_ts`` and
    ``last_ts`` that the cloud holds (alarms, which are never dropped) were kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[
        str,
        Field(min_length=8, max_length=64, description="unique id, fixed when recorded"),
    ]
    device_id: Annotated[str, Field(min_length=1, max_length=128)]
    first_ts: datetime = Field(description="event time of the earliest reading dropped")
    last_ts: datetime = Field(description="event time of the latest reading dropped")
    items: Annotated[int, Field(ge=1, description="readings dropped")]
    reason: GapReason = Field(
        description="disk_budget: the outbox reached its budget and dropped its oldest "
        "telemetry; disk_full: the disk itself was full"
    )


class Batch(BaseModel):
    """Envelope of ``up/batch``. ``(gateway_id, epoch, seq)`` is the batch's identity: a
    batch sent again carries the same items under the same identity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    gateway_id: GatewayId
    epoch: Epoch
    seq: Annotated[int, Field(ge=0)]
    sent_at: datetime
    items: Annotated[list[Item], Field(max_length=MAX_BATCH_ITEMS)]
    gaps: Annotated[list[DataGap], Field(max_length=MAX_BATCH_GAPS)] = Field(
        default_factory=list, description="data-gap records: readings the gateway had to drop"
    )


def batch_payload(
    gateway_id: str,
    epoch: str,
    seq: int,
    sent_at: datetime,
    items: Sequence[str],
    gaps: Sequence[str] = (),
) -> bytes:
    """The JSON of a :class:`Batch` whose items (and data gaps) are already JSON text (as a
    gateway keeps them), without parsing them again. ``gaps`` is left out when empty."""
    head = Batch(gateway_id=gateway_id, epoch=epoch, seq=seq, sent_at=sent_at, items=[])
    envelope = head.model_dump_json(exclude={"gaps"})
    assert envelope.endswith('"items":[]}')
    tail = f'],"gaps":[{",".join(gaps)}]}}' if gaps else "]}"
    return (envelope[: -len("]}")] + ",".join(items) + tail).encode("utf-8")


class BatchAck(BaseModel):
    """Payload of ``down/ack``: the cloud has committed (or refused for good) a batch, so its
    gateway may forget the batch's items."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    gateway_id: GatewayId
    epoch: Epoch
    seq: Annotated[int, Field(ge=0)]
    result: Literal["stored", "duplicate", "rejected"] = Field(
        description="stored now; stored before (a batch sent again); or refused for a reason "
        "in the batch itself, kept whole as a dead letter in the cloud"
    )
    reason: str = ""


class GatewayStatus(BaseModel):
    """Payload of ``up/status`` (retained). The last will carries ``online: false``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    gateway_id: GatewayId
    online: bool
    ts: datetime | None = None
    counters: dict[str, int] = {}


class Command(BaseModel):
    """Payload of ``down/command``: one command for one device behind the gateway."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    id: Annotated[str, Field(min_length=8, max_length=64)]
    device_id: str
    command: str
    args: dict[str, Any] = {}


WIRE_MESSAGES: dict[str, type[BaseModel]] = {
    "batch": Batch,
    "batch_ack": BatchAck,
    "gateway_status": GatewayStatus,
    "command": Command,
}
"""Every edge ↔ cloud message, by the name its schema has in ``docs/protocol.schema.json``."""


def wire_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of every edge ↔ cloud message, under ``$defs``."""
    _, schema = models_json_schema(
        [(model, "validation") for model in WIRE_MESSAGES.values()],
        ref_template="#/$defs/{model}",
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:linli:protocol:v1",
        "title": "linli wire protocol v1",
        "description": "The edge ↔ cloud messages of Linli protocol v1 (docs/protocol.md), "
        "one definition each: "
        + ", ".join(f"{name} = {model.__name__}" for name, model in WIRE_MESSAGES.items())
        + ".",
        "$defs": schema["$defs"],
    }
