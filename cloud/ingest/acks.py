"""Acknowledgements to gateways (``down/ack``): what became of each batch.

``stored`` and ``duplicate`` are sent after the database transaction committed; ``rejected``
after the batch was kept whole as a dead letter. A rejected batch may be invalid in any way,
so its identity is read leniently: whatever of ``epoch`` and ``seq`` is readable is enough.
"""

from __future__ import annotations

import json
import re
from typing import Literal, NamedTuple

import pydantic_core

from device_profiles.protocol import (
    EPOCH_PATTERN,
    GATEWAY_ID_PATTERN,
    BatchAck,
    ack_topic,
    parse_up_topic,
)

MAX_REASON_CHARS = 1000
"""An acknowledgement carries the reason's beginning; the dead letter keeps all of it."""

Result = Literal["stored", "duplicate", "rejected"]


def batch_identity(topic: str, payload: bytes) -> tuple[str, str, int] | None:
    """``(gateway_id, epoch, seq)`` of whatever was sent on a gateway's ``up/batch`` topic,
    if it says enough to acknowledge it; None otherwise.

    The gateway is the topic's (the one that sent it and keeps it in its outbox), even when
    the payload names another.
    """
    parsed = parse_up_topic(topic)
    if parsed is None or parsed[1] != "batch" or not re.fullmatch(GATEWAY_ID_PATTERN, parsed[0]):
        return None
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
        return None
    if not isinstance(document, dict):
        return None
    epoch, seq = document.get("epoch"), document.get("seq")
    if not isinstance(epoch, str) or not re.fullmatch(EPOCH_PATTERN, epoch):
        return None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return None
    return parsed[0], epoch, seq


class Ack(NamedTuple):
    """A batch's acknowledgement to its gateway, as ingest makes thousands a second (a
    named tuple, made far faster than a model): :attr:`payload` is the JSON of the
    protocol's :class:`~device_profiles.protocol.BatchAck`."""

    gateway_id: str
    epoch: str
    seq: int
    result: Result
    reason: str = ""

    @property
    def topic(self) -> str:
        return ack_topic(self.gateway_id)

    @property
    def payload(self) -> bytes:
        """The JSON of :meth:`message`, made without a model."""
        return pydantic_core.to_json(
            {
                "v": 1,
                "gateway_id": self.gateway_id,
                "epoch": self.epoch,
                "seq": self.seq,
                "result": self.result,
                "reason": self.reason,
            }
        )

    def message(self) -> BatchAck:
        """The acknowledgement as the protocol's model (validated)."""
        return BatchAck(**self._asdict())


def batch_ack(gateway_id: str, epoch: str, seq: int, result: Result, reason: str = "") -> Ack:
    """The acknowledgement of a batch whose identity was validated (a parsed batch's, or
    :func:`batch_identity`'s): made without validating it again, as the hot path wants."""
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1] + "…"
    return Ack(gateway_id, epoch, seq, result, reason)


def rejection(topic: str, payload: bytes, reason: str) -> Ack | None:
    """The ``rejected`` acknowledgement of a batch kept as a dead letter, if it can have one."""
    identity = batch_identity(topic, payload)
    if identity is None:
        return None
    return batch_ack(*identity, result="rejected", reason=reason)
