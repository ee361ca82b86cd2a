"""Edge → cloud messages in, one outcome each out: the ingest path without the transport.

:meth:`Intake.read` validates a message (:class:`Incoming`: what it is, or why it is
rejected); :meth:`Intake.settle` stores a group of them — their batches in one transaction
— or keeps those that break a rule of the protocol as dead letters; each outcome says what
to tell the gateway. :meth:`Intake.process` does both for one message. Database errors are
raised, not handled: whether to try again is the caller's decision (the worker holds the
messages and retries; a replay reports it). The worker and ``linli cloud dead-letters
replay`` both go through here, so a replayed dead letter is judged exactly as a fresh
message is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from cloud.ingest import acks
from cloud.ingest.dead_letters import DeadLetters
from cloud.ingest.roster import GatewayRoster, Refusals
from cloud.ingest.writer import BatchWriter, WriteResult
from cloud.metrics import CloudMetrics
from device_profiles import wire
from device_profiles.protocol import Batch, GatewayStatus, parse_up_topic
from plumbing.issues import validation_summary


class Rejected(Exception):
    """The message itself breaks a rule of the protocol: no retry can store it."""

    def __init__(self, reason: str, category: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category


_BATCHES = (Batch, wire.Batch)


def _naive_timestamp(batch: wire.SomeBatch) -> str | None:
    """Where ``batch`` has a time without a UTC offset (it could not be ordered), if anywhere."""
    if batch.sent_at.tzinfo is None:
        return "sent_at"
    items: Sequence[wire.SomeItem] = batch.items
    for n, item in enumerate(items):
        if item.ts.tzinfo is None:
            return f"items.{n}.ts"
        if item.received_at.tzinfo is None:
            return f"items.{n}.received_at"
    return None


def parse(topic: str, payload: bytes) -> wire.SomeBatch | GatewayStatus:
    """The protocol message on ``topic``; :class:`Rejected` saying why it is not one.
    A batch is read fast (:func:`device_profiles.wire.read_batch`)."""
    parsed = parse_up_topic(topic)
    if parsed is None:
        raise Rejected("not an edge → cloud topic", "topic")
    gateway_id, kind = parsed
    message: wire.SomeBatch | GatewayStatus
    try:
        if kind == "batch":
            message = wire.read_batch(payload)
        elif kind == "status":
            message = GatewayStatus.model_validate_json(payload)
        else:
            raise Rejected(f"unknown message kind {kind!r}", "topic")
    except ValidationError as exc:
        raise Rejected(validation_summary(exc, root="payload"), "invalid") from None
    if message.gateway_id != gateway_id:
        raise Rejected(f"gateway_id {message.gateway_id!r} does not match topic", "gateway")
    if isinstance(message, _BATCHES) and (naive := _naive_timestamp(message)) is not None:
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

    result: Literal["stored", "duplicate", "rejected", "unprovisioned"]
    kind: Kind
    ack: acks.Ack | None = None
    """What to tell the gateway; None for a status, a rejected message that does not say
    which batch it is, or anything from a gateway not provisioned (it keeps its batches)."""
    reason: str = ""
    stored: int = 0
    """Readings stored now."""
    duplicates: int = 0
    """Readings stored before (a batch or its items sent again)."""
    dead_letter: int | None = None
    """The id of the dead letter it became, if it became one."""

    def describe(self) -> str:
        if self.result in ("rejected", "unprovisioned"):
            return f"{self.result}: {self.reason}"
        if self.kind == "status":
            return "status recorded"
        if self.result == "duplicate":
            return f"duplicate: batch stored before ({self.duplicates} readings)"
        return f"stored: {self.stored} readings, {self.duplicates} stored before"


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message as read: what it says, or why it is rejected."""

    topic: str
    payload: bytes
    message: wire.SomeBatch | GatewayStatus | None
    rejected: Rejected | None = None

    @property
    def readings(self) -> int:
        return len(self.message.items) if isinstance(self.message, _BATCHES) else 0


class Intake:
    def __init__(
        self,
        writer: BatchWriter,
        dead_letters: DeadLetters,
        metrics: CloudMetrics,
        roster: GatewayRoster,
    ) -> None:
        self._writer = writer
        self._dead_letters = dead_letters
        self._metrics = metrics
        self.roster = roster

    @staticmethod
    def read(topic: str, payload: bytes) -> Incoming:
        """Validate one message (nothing stored yet)."""
        try:
            return Incoming(topic, payload, parse(topic, payload))
        except Rejected as exc:
            return Incoming(topic, payload, None, exc)

    def process(self, topic: str, payload: bytes, *, keep_rejected: bool = True) -> Outcome:
        """Validate and store one message. A message that breaks the protocol is kept as a
        dead letter (unless ``keep_rejected`` is false) and comes back ``rejected``."""
        return self.settle([self.read(topic, payload)], keep_rejected=keep_rejected)[0]

    def settle(self, incoming: Sequence[Incoming], *, keep_rejected: bool = True) -> list[Outcome]:
        """Store what ``incoming`` holds — its batches in one transaction, then statuses —
        and keep what breaks the protocol as dead letters; an outcome for each, in order.
        What a gateway not provisioned sent is neither stored nor acknowledged, but counted
        and recorded (:mod:`cloud.ingest.roster`)."""
        senders = {one.message.gateway_id for one in incoming if one.message is not None}
        refused = self.roster.refused(senders) if senders else {}
        batches = [
            one.message
            for one in incoming
            if isinstance(one.message, _BATCHES) and one.message.gateway_id not in refused
        ]
        written = iter(self._writer.write_group(batches) if batches else [])
        outcomes: list[Outcome] = []
        refusals: dict[str, Refusals] = {}
        for one in incoming:
            message = one.message
            if message is not None and message.gateway_id in refused:
                outcomes.append(_refused(message, refused[message.gateway_id], refusals))
            elif isinstance(message, _BATCHES):
                outcomes.append(_stored(message, next(written)))
            elif isinstance(message, GatewayStatus):
                self._writer.record_status(message)
                outcomes.append(Outcome(result="stored", kind="status"))
            else:
                assert one.rejected is not None
                reason, category = one.rejected.reason, one.rejected.category
                outcomes.append(
                    self.reject(one.topic, one.payload, reason, category, keep=keep_rejected)
                )
        if refusals:
            self.roster.record(refusals, refused)
        return outcomes

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


def _refused(
    message: wire.SomeBatch | GatewayStatus, why: str, refusals: dict[str, Refusals]
) -> Outcome:
    """A message of a gateway not provisioned (``why``: unknown or retired), tallied."""
    tally = refusals.setdefault(message.gateway_id, Refusals())
    if isinstance(message, GatewayStatus):
        tally.statuses += 1
        kind: Kind = "status"
    else:
        tally.batches += 1
        tally.readings += len(message.items)
        kind = "batch"
    reason = f"gateway {message.gateway_id} is {why}: provision it (site file or API) first"
    if why != "unknown":
        reason = f"gateway {message.gateway_id} is {why}"
    return Outcome(result="unprovisioned", kind=kind, reason=reason)


def _stored(batch: wire.SomeBatch, written: WriteResult) -> Outcome:
    stored_before = written.duplicate_batch and not written.stored
    result: acks.Result = "duplicate" if stored_before else "stored"
    return Outcome(
        result=result,
        kind="batch",
        ack=acks.batch_ack(batch.gateway_id, batch.epoch, batch.seq, result),
        stored=written.stored,
        duplicates=written.duplicates,
    )
