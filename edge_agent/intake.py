"""Device messages in: decoded with their profile, judged by its rules, stamped as items.

:class:`Intake` is the agent's logic for one device message, without any network: the
profile whose topic pattern matches decodes the payload; the profile's health rules, with
what they remember of that device, say which faults are active. An item whose faults differ
from its device's previous item — a fault starts or clears — is an *alarm*, sent ahead of
bulk telemetry. A reading that is no news — within the profile's deadbands, with the same
faults, less than half a heartbeat after the last one forwarded — is not forwarded (report
by exception). A message that cannot be decoded goes to the dead-letter log with its reason.

**Bad clocks.** A reading stamped more than ``max_clock_skew_s`` ahead of its receipt comes
from a device whose clock is wrong: its item keeps the device's stamp but is flagged
(``ts_suspect``), counted, and judged by its receipt time — so one reading stamped in 2100
cannot make every later reading look out of order and freeze what the rules remember.

An item's id is fixed here. A reading the device stamped with its own time gets the id of
the very message (:func:`~device_profiles.protocol.reading_id` of gateway, topic and
payload), so the same message delivered or published again is the same item; any other
reading gets a fresh random id.

What is remembered per device (and which profile each topic belongs to) is bounded
(:mod:`edge_agent.memory`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from pydantic import ValidationError

from device_profiles import Catalogue, DecodeError, Profile, evaluate
from device_profiles.decode import Decoded, match_topic
from device_profiles.decoder import Decoder, TopicMatch, unchecked
from device_profiles.protocol import Item, new_item_id, reading_id
from device_profiles.rules import RuleState, is_news
from device_profiles.schema import Scalar
from edge_agent.deadletter import DeadLetters
from edge_agent.memory import Recency
from edge_agent.status import Counters
from plumbing.issues import validation_summary

log = logging.getLogger(__name__)

INTERNAL_TRACEBACKS = 3  # tracebacks logged for unexpected decoding errors; then reasons only

DeviceKey = tuple[str, str]
"""(profile id, device id)."""

MAX_DEVICE_ID = 128
"""The protocol's limit on a device id (``Item.device_id``)."""

Route = tuple[str, dict[str, str]]
"""(profile id, the device topic's other placeholders)."""


@dataclass(frozen=True, slots=True)
class MemoryLimits:
    """How many devices the agent remembers, and for how long after it last heard one."""

    max_devices: int = 10_000
    idle_s: float = 86_400.0


class DeviceRoutes:
    """How to reach each device heard from recently: its profile and its topic's other
    placeholders, which a command to it needs."""

    def __init__(self, limits: MemoryLimits = MemoryLimits()) -> None:
        self._routes: Recency[str, Route] = Recency(limits.max_devices, limits.idle_s)

    def __len__(self) -> int:
        return len(self._routes)

    def remember(self, catalogue: Catalogue, profile_id: str, topic: str, device_id: str) -> None:
        known = self._routes.get(device_id)
        if known is None or known[0] != profile_id:
            matched = match_topic(catalogue[profile_id], topic)
            placeholders = matched[1] if matched else {}
            known = (profile_id, {k: v for k, v in placeholders.items() if k != "device_id"})
        self._routes.set(device_id, known)

    def get(self, device_id: str) -> Route | None:
        """(profile id, placeholders) of ``device_id``; None if not heard from lately."""
        return self._routes.get(device_id)


class _Device:
    """What the agent remembers of one device between its readings."""

    __slots__ = ("faults", "last", "state")

    def __init__(self) -> None:
        self.state: RuleState | None = None
        """What its duration and rate rules remember, so that an alarm the cloud will raise
        is recognised here too and sent ahead of bulk telemetry."""
        self.faults: frozenset[str] = frozenset()
        """The faults active after its previous item: a change makes an alarm."""
        self.last: Item | None = None
        """The last reading forwarded, for report by exception (kept only for a profile
        with deadbands: without, every reading is news)."""


class _Judged(NamedTuple):
    """A reading as the rules judge it: at its own time, or at its receipt when its own
    time cannot be trusted."""

    ts: datetime
    metrics: Mapping[str, Scalar]
    faults: tuple[str, ...]


class Intake:
    """Turns device messages into items, remembering what the rules need per device."""

    def __init__(
        self,
        gateway_id: str,
        catalogue: Catalogue,
        dead_letters: DeadLetters,
        counters: Counters,
        routes: DeviceRoutes,
        *,
        max_clock_skew_s: float = 300.0,
        limits: MemoryLimits = MemoryLimits(),
    ) -> None:
        self._gateway_id = gateway_id
        self._dead_letters = dead_letters
        self._counters = counters
        self._routes = routes
        self._max_skew_s = max_clock_skew_s
        self.devices: Recency[DeviceKey, _Device] = Recency(limits.max_devices, limits.idle_s)
        """What is remembered of each device heard from lately."""
        # which profile each topic is of, and what it says: found once per topic
        self.topics: Recency[str, tuple[Decoder, TopicMatch]] = Recency(
            limits.max_devices, limits.idle_s
        )
        self._decoders: dict[str, Decoder] = {}  # by profile id, compiled once
        self._filtering: dict[str, bool] = {}  # profile id: whether it has deadbands
        self._catalogue = catalogue

    @property
    def catalogue(self) -> Catalogue:
        """The profiles messages are decoded with."""
        return self._catalogue

    @catalogue.setter
    def catalogue(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue
        self.topics.clear()
        self._decoders.clear()
        self._filtering.clear()

    def accept(self, topic: str, payload: bytes, received_at: datetime) -> Item | None:
        """The item for one device message; None for a dead letter or a reading that is no
        news."""
        self._counters.messages_received += 1
        catalogue = self._catalogue
        try:
            decoder, route = self._topic(topic)
            profile = decoder.profile
            ts, metrics, reported = decoder.read(route.spec, payload, received_at)
            device_id = route.device_id
            if len(device_id) > MAX_DEVICE_ID:
                raise ItemError(f"device_id: longer than {MAX_DEVICE_ID} characters")
            key = (profile.id, device_id)
            self._routes.remember(catalogue, profile.id, topic, device_id)
            device = self.devices.get(key) or _Device()
            suspect = (ts - received_at).total_seconds() > self._max_skew_s
            if suspect:
                self._counters.readings_clock_ahead += 1
                verdict = evaluate(profile, _Judged(received_at, metrics, reported), device.state)
            else:
                verdict = evaluate(profile, _Judged(ts, metrics, reported), device.state)
            device.state = verdict.state
            faults = frozenset(verdict.faults)
            alarm = faults != device.faults
            device.faults = faults
            self.devices.set(key, device)
            stamped = profile.decode.timestamp is not None and ts != received_at
            item = unchecked(
                Item,
                {
                    "id": reading_id(self._gateway_id, topic, payload)
                    if stamped
                    else new_item_id(),
                    "device_id": device_id,
                    "device_type": profile.type,
                    "profile": profile.id,
                    "profile_version": profile.version,
                    "ts": ts,
                    "received_at": received_at,
                    "metrics": metrics,
                    "faults": reported,
                    "alarm": alarm,
                    "ts_suspect": suspect,
                },
            )
            if not self._filtering[profile.id]:
                return item  # without deadbands every reading is news
            if self._no_news(profile, device.last, item):
                self._counters.readings_within_deadband += 1
                return None
            device.last = item
            return item
        except DecodeError as exc:
            known = catalogue.profile_for_topic(topic) is not None
            self._dead_letter(topic, payload, "decode" if known else "unknown_topic", exc.reason)
        except ItemError as exc:
            self._dead_letter(topic, payload, "decode", str(exc))
        except ValidationError as exc:
            self._dead_letter(topic, payload, "decode", validation_summary(exc, root="payload"))
        except Exception as exc:  # a bad message must never stop the agent
            if self._dead_letters.by_category.get("internal", 0) < INTERNAL_TRACEBACKS:
                log.exception("unexpected error decoding a message on %s", topic)
            self._dead_letter(topic, payload, "internal", f"{type(exc).__name__}: {exc}")
        return None

    def _topic(self, topic: str) -> tuple[Decoder, TopicMatch]:
        """The decoder of the profile whose topics ``topic`` is one of, and what the topic
        says; DecodeError if there is none."""
        known = self.topics.get(topic)
        if known is None:
            profile = self._catalogue.profile_for_topic(topic)
            if profile is None:
                raise DecodeError(f"no profile claims topic {topic!r}")
            decoder = self._decoders.get(profile.id)
            if decoder is None or decoder.profile is not profile:
                decoder = self._decoders[profile.id] = Decoder(profile)
                self._filtering[profile.id] = any(
                    m.deadband is not None for m in profile.decode.metrics.values()
                )
            known = (decoder, decoder.route(topic))
        self.topics.set(topic, known)
        return known

    def _dead_letter(self, topic: str, payload: bytes, category: str, reason: str) -> None:
        self._dead_letters.record(topic=topic, payload=payload, category=category, reason=reason)

    @staticmethod
    def _no_news(profile: Profile, last: Item | None, item: Item) -> bool:
        if last is None or last.faults != item.faults or item.alarm != last.alarm:
            return False
        if (item.received_at - last.received_at).total_seconds() >= profile.heartbeat_s / 2:
            return False
        return not is_news(profile, last.metrics, item.metrics)


class ItemError(ValueError):
    """A decoded reading that cannot be an item of the protocol."""


def make_item(
    decoded: Decoded,
    received_at: datetime,
    *,
    alarm: bool,
    item_id: str | None = None,
    suspect: bool = False,
) -> Item:
    """The item of a decoded reading, as ``Item.from_decoded`` makes it but without
    validating again what its decoding validated (twice as fast, on the hot path); the one
    limit of the protocol a decoding does not hold, the device id's length, is checked
    here (ItemError)."""
    if len(decoded.device_id) > MAX_DEVICE_ID:
        raise ItemError(f"device_id: longer than {MAX_DEVICE_ID} characters")
    return unchecked(
        Item,
        {
            "id": item_id or new_item_id(),
            "device_id": decoded.device_id,
            "device_type": decoded.device_type,
            "profile": decoded.profile,
            "profile_version": decoded.profile_version,
            "ts": decoded.ts,
            "received_at": received_at,
            "metrics": decoded.metrics,
            "faults": decoded.faults,
            "alarm": alarm,
            "ts_suspect": suspect,
        },
    )
