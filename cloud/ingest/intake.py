"""One edge → cloud message in, one outcome out: the ingest path without the transport.

:meth:`Intake.process` validates a message and stores it (one transaction per message), or
keeps it as a dead letter when it breaks a rule of the protocol; the outcome says what to
tell the gateway. Database errors are raised, not handled: whether to try again is the
caller's decision (the worker holds the message and retries; a replay reports it). The
worker and ``linli cloud dead-letters replay`` both go through here, so a replayed dead
letter is judged exactly as a fresh message is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from cloud.ingest import acks
from cloud.ingest.dead_letters import DeadLetters
from cloud.ingest.writer import BatchWriter
from cloud.metrics import CloudMetrics
from device_profiles.protocol import Batch, BatchAck, GatewayStatus, parse_up_topic
from plumbing.issues import validation_summary


class Rejected(Exception):
    """The message itself breaks a rule of the protocol: no retry can store it."""

    def __init__(self, reason: str, category: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category


def _naive_timestamp(batch: Batch) -> str | None:
    """Where ``batch`` has a time without a UTC offset (it could not be ordered), if anywhere."""
    if batch.sent_at.tzinfo is None:
        return "sent_at"
    for n, item in enumerate(batch.items):
        for name in ("ts", "received_at"):
            if getattr(item, name).tzinfo is None:
                return f"items.{n}.{name}"
    return None


def parse(topic: str, payload: bytes) -> Batch | GatewayStatus:
    """The protocol message on ``topic``; :class:`Rejected` saying why it is not one."""
    parsed = parse_up_topic(topic)
    if parsed is None:
        raise Rejected("not an edge → cloud topic", "topic")
    gateway_id, kind = parsed
    model: type[Batch] | type[GatewayStatus]
    if kind == "batch":
        model = Batch
    elif kind == "status":
        model = GatewayStatus
    else:
        raise Rejected(f"unknown message kind {kind!r}", "topic")
    try:
        message = model.model_validate_json(payload)
    except ValidationError as exc:
        raise Rejected(validation_summary(exc, root="payload"), "invalid") from None
    if message.gateway_id != gateway_id:
        raise Rejected(f"gateway_id {message.gateway_id!r} does not match topic", "gateway")
    if isinstance(message, Batch) and (naive := _naive_timestamp(message)) is not None:
        raise Rejected(f"{naive}: timestamp has no UTC offset", "invalid")
    return message


Kind = Literal["batch", "status", "other"]


def _kind(topic: str) -> Kind:
    parsed = parse_up_topic(topic)
    if parsed is not None and parsed[1] == "batch":
        return "batch"
    if parsed is not None and parsed[1] == "status":
        return "status"
    return "other"


@dataclass(frozen=True)
class Outcome:
    """What became of one message."""

    result: Literal["stored", "duplicate", "rejected"]
    kind: Kind
    ack: BatchAck | None = None
    """What to tell the gateway; None for a status, or a rejected message that does not
    say which batch it is."""
    reason: str = ""
    stored: int = 0
    """Readings stored now."""
    duplicates: int = 0
    """Readings stored before (a batch or its items sent again)."""
    dead_letter: int | None = None
    """The id of the dead letter it became, if it became one."""

    def describe(self) -> str:
        if self.result == "rejected":
            return f"rejected: {self.reason}"
        if self.kind == "status":
            return "status recorded"
        if self.result == "duplicate":
            return f"duplicate: batch stored before ({self.duplicates} readings)"
        return f"stored: {self.stored} readings, {self.duplicates} stored before"


class Intake:
    def __init__(
        self, writer: BatchWriter, dead_letters: DeadLetters, metrics: CloudMetrics
    ) -> None:
        self._writer = writer
        self._dead_letters = dead_letters
        self._metrics = metrics

    def process(self, topic: str, payload: bytes, *, keep_rejected: bool = True) -> Outcome:
        """Validate and store one message. A message that breaks the protocol is kept as a
        dead letter (unless ``keep_rejected`` is false) and comes back ``rejected``."""
        try:
            message = parse(topic, payload)
        except Rejected as exc:
            return self.reject(topic, payload, exc.reason, exc.category, keep=keep_rejected)
        if isinstance(message, GatewayStatus):
            self._writer.record_status(message)
            return Outcome(result="stored", kind="status")
        written = self._writer.write(message)
        stored_before = written.duplicate_batch and not written.stored
        result: acks.Result = "duplicate" if stored_before else "stored"
        return Outcome(
            result=result,
            kind="batch",
            ack=acks.batch_ack(message.gateway_id, message.epoch, message.seq, result),
            stored=written.stored,
            duplicates=written.duplicates,
        )

    def reject(
        self, topic: str, payload: bytes, reason: str, category: str, *, keep: bool = True
    ) -> Outcome:
        """Give up on a message for good: keep it whole as a dead letter (``keep``)."""
        letter = self._dead_letters.record(topic, payload, reason, category) if keep else None
        kind = _kind(topic)
        if kind == "batch":
            self._metrics.batches.labels(result="rejected").inc()
        return Outcome(
            result="rejected",
            kind=kind,
            ack=acks.rejection(topic, payload, reason),
            reason=reason,
            dead_letter=letter,
        )
