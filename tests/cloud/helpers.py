"""Builders for cloud tests: items decoded from the profiles' own examples, batches, waits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.repair.lifecycle import Actor, Move
from cloud.repair.tickets import By
from cloud.telemetry.upkeep import TelemetryUpkeep
from device_profiles import Catalogue, decode, evaluate, match_topic
from device_profiles.encode import encode
from device_profiles.protocol import Batch, Item, new_item_id
from device_profiles.schema import Example, Profile

T0 = datetime(2025, 11, 27, 0, 0, tzinfo=UTC)
"""Event time of the first reading in most tests; later readings add minutes."""

GATE = "acme_access_gate"
LIGHT = "brightway_street_light"
BUTTON = "safecall_alarm_button"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def example(profile: Profile, name: str) -> Example:
    for candidate in profile.examples:
        if candidate.name == name:
            return candidate
    raise KeyError(f"{profile.id} has no example {name!r}")


def payload_bytes(payload: dict[str, Any] | str) -> bytes:
    return payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()


def item_from_payload(
    catalogue: Catalogue,
    profile_id: str,
    topic: str,
    payload: dict[str, Any] | str,
    *,
    ts: datetime,
    item_id: str | None = None,
) -> Item:
    """Decode a vendor payload the way the edge does and wrap it as a protocol Item.

    ``ts`` replaces the event time the payload carries, so tests control ordering.
    """
    profile = catalogue[profile_id]
    decoded = decode(profile, topic, payload_bytes(payload), ts)
    decoded = decoded.model_copy(update={"ts": ts})
    alarm = bool(evaluate(profile, decoded).faults)
    return Item.from_decoded(decoded, ts, alarm=alarm, item_id=item_id or new_item_id())


def item(
    catalogue: Catalogue,
    profile_id: str,
    example_name: str,
    *,
    ts: datetime = T0,
    device_id: str | None = None,
    item_id: str | None = None,
) -> Item:
    """The named example of a built-in profile as an Item (optionally for another device)."""
    profile = catalogue[profile_id]
    found = example(profile, example_name)
    topic = found.topic
    if device_id is not None:
        matched = match_topic(profile, topic)
        assert matched is not None
        spec, placeholders = matched
        others = {k: v for k, v in placeholders.items() if k != "device_id"}
        topic = spec.topic_for(device_id, **others)
    return item_from_payload(catalogue, profile_id, topic, found.payload, ts=ts, item_id=item_id)


EPOCH = "0123456789abcdef"
"""The epoch of most tests' batches."""


def batch(gateway_id: str, seq: int, items: Iterable[Item], *, epoch: str = EPOCH) -> Batch:
    return Batch(gateway_id=gateway_id, epoch=epoch, seq=seq, sent_at=T0, items=list(items))


def count(sessions: sessionmaker[Session], model: Any, *where: Any) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def wait_until(predicate: Callable[[], Any], within: float = 10.0, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or predicate}")
        time.sleep(0.02)


async def eventually(predicate: Callable[[], Any], within: float = 10.0, what: str = "") -> Any:
    """``wait_until`` for async tests; ``predicate`` runs in a thread (it may hit the DB)."""
    deadline = time.monotonic() + within
    while True:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


ADMIN = By(Actor.OPERATOR_ADMIN, "admin", "person")
"""An operator admin, as ticket moves name them."""


def move(
    services: Any,
    ticket_id: int,
    action: str,
    minute: float,
    *,
    by: By = ADMIN,
    note: str = "",
    assignee_id: int | None = None,
) -> str:
    """Make ``action`` on the ticket at minute ``minute`` (as an operator admin unless ``by``
    says otherwise); the state it is in after."""
    with services.sessions.begin() as session:
        ticket = services.tickets.move(
            session,
            ticket_id,
            Move(action),
            by,
            at=at(minute),
            note=note or f"{action} in a test",
            assignee_id=assignee_id,
        )
        return str(ticket.state)


def reported(
    catalogue: Catalogue, profile_id: str, device_id: str, ts: datetime, **metrics: Any
) -> Item:
    """An Item of ``device_id`` reporting ``metrics`` at ``ts`` in its profile's dialect (the
    rest as its first healthy example), no fault of its own."""
    profile = catalogue[profile_id]
    topic, payload = encode(profile, device_id, metrics, (), ts)
    return item_from_payload(catalogue, profile_id, topic, payload.decode(), ts=ts)


def rolled_up(upkeep: TelemetryUpkeep, now: datetime) -> None:
    """Everything marked due rolled up as of ``now``: minutes, then their hours."""
    while True:
        done = upkeep.run(now)
        if not (done.minutes or done.hours):
            return
