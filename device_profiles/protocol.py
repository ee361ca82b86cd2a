"""Linli wire protocol v1 between edge agents and the cloud (see docs/protocol.md).

Topics live under ``linli/v1/gw/{gateway_id}/``; ``up/...`` flows edge → cloud and
``down/...`` cloud → edge. Payloads are JSON encodings of the models below.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from device_profiles.decode import Decoded
from device_profiles.schema import Scalar

PREFIX = "linli/v1/gw"
GATEWAY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_BATCH_ITEMS = 1000

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
    alarm: bool = Field(default=False, description="a fault is active: sent ahead of bulk")

    @classmethod
    def from_decoded(
        cls, decoded: Decoded, received_at: datetime, *, alarm: bool, item_id: str | None = None
    ) -> Item:
        return cls(
            id=item_id or new_item_id(),
            received_at=received_at,
            alarm=alarm,
            **decoded.model_dump(),
        )


class Batch(BaseModel):
    """Envelope of ``up/batch``. ``seq`` only grows per gateway, across restarts too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    gateway_id: GatewayId
    seq: Annotated[int, Field(ge=0)]
    sent_at: datetime
    items: Annotated[list[Item], Field(max_length=MAX_BATCH_ITEMS)]


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
