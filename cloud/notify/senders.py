"""What every channel is given to send, and how it says it could not."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from cloud.notify.rules import Channel


class DeliveryFailed(Exception):
    """The receiver did not take the delivery (the message says why): it is tried again."""


@dataclass(frozen=True)
class Outgoing:
    """A delivery taken for one attempt."""

    id: int
    key: str
    """its idempotency key: the same on every attempt"""
    channel: Channel
    kind: str
    attempt: int
    """this attempt's number, from 1"""
    body: dict[str, Any]
    address: str
    """an e-mail address, an MQTT topic, a webhook's URL"""
    secret: str | None = None
    """a webhook's signing secret"""


class Sender(Protocol):
    async def send(self, outgoing: Outgoing) -> None:
        """Deliver ``outgoing``; :class:`DeliveryFailed` if its receiver did not take it."""

    async def close(self) -> None:
        """Let go of connections."""


def payload(outgoing: Outgoing) -> bytes:
    """The notice's body with the delivery's idempotency key, as UTF-8 JSON."""
    document = {**outgoing.body, "delivery": outgoing.key}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
