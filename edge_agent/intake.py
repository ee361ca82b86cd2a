"""Device messages in: decoded with their profile, judged by its rules, stamped as items.

:class:`Intake` is the agent's logic for one device message, without any network: the
profile whose topic pattern matches decodes the payload; the profile's health rules, with
what they remember of that device, say which faults are active. An item whose faults differ
from its device's previous item — a fault starts or clears — is an *alarm*, sent ahead of
bulk telemetry. A reading that is no news — within the profile's deadbands, with the same
faults, less than half a heartbeat after the last one forwarded — is not forwarded (report
by exception). A message that cannot be decoded goes to the dead-letter log with its reason.

An item's id is fixed here. A reading the device stamped with its own time gets the id of
the very message (:func:`~device_profiles.protocol.reading_id` of gateway, topic and
payload), so the same message delivered or published again is the same item; any other
reading gets a fresh random id.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import ValidationError

from device_profiles import Catalogue, DecodeError, Profile, evaluate
from device_profiles.decode import match_topic
from device_profiles.protocol import Item, reading_id
from device_profiles.rules import RuleState, is_news
from edge_agent.deadletter import DeadLetters
from edge_agent.status import Counters
from plumbing.issues import validation_summary

log = logging.getLogger(__name__)

INTERNAL_TRACEBACKS = 3  # tracebacks logged for unexpected decoding errors; then reasons only

DeviceKey = tuple[str, str]
"""(profile id, device id)."""


class DeviceRoutes:
    """How to reach each device heard from: its profile and its topic's other placeholders,
    which a command to it needs."""

    def __init__(self) -> None:
        self._routes: dict[str, tuple[str, dict[str, str]]] = {}

    def remember(self, catalogue: Catalogue, profile_id: str, topic: str, device_id: str) -> None:
        known = self._routes.get(device_id)
        if known is not None and known[0] == profile_id:
            return
        matched = match_topic(catalogue[profile_id], topic)
        others = {k: v for k, v in (matched[1] if matched else {}).items() if k != "device_id"}
        self._routes[device_id] = (profile_id, others)

    def get(self, device_id: str) -> tuple[str, dict[str, str]] | None:
        """(profile id, placeholders) of ``device_id``; None if never heard from."""
        return self._routes.get(device_id)


class Intake:
    """Turns device messages into items, remembering what the rules need per device."""

    def __init__(
        self,
        gateway_id: str,
        catalogue: Catalogue,
        dead_letters: DeadLetters,
        counters: Counters,
        routes: DeviceRoutes,
    ) -> None:
        self.catalogue = catalogue
        self._gateway_id = gateway_id
        self._dead_letters = dead_letters
        self._counters = counters
        self._routes = routes
        # what duration and rate rules remember, so that an alarm the cloud will raise is
        # recognised here too and sent ahead of bulk telemetry
        self._rule_states: dict[DeviceKey, RuleState] = {}
        # the last reading forwarded, for report by exception
        self._last_forwarded: dict[DeviceKey, Item] = {}
        # the faults of each device's previous item: a change makes an alarm
        self._last_faults: dict[DeviceKey, frozenset[str]] = {}

    def accept(self, topic: str, payload: bytes, received_at: datetime) -> Item | None:
        """The item for one device message; None for a dead letter or a reading that is no
        news."""
        self._counters.messages_received += 1
        catalogue = self.catalogue
        try:
            decoded = catalogue.decode(topic, payload, received_at)
            key = (decoded.profile, decoded.device_id)
            profile = catalogue[decoded.profile]
            self._routes.remember(catalogue, decoded.profile, topic, decoded.device_id)
            verdict = evaluate(profile, decoded, self._rule_states.get(key))
            self._rule_states[key] = verdict.state
            faults = frozenset(verdict.faults)
            alarm = faults != self._last_faults.get(key, frozenset())
            self._last_faults[key] = faults
            stamped = profile.decode.timestamp is not None and decoded.ts != received_at
            item_id = reading_id(self._gateway_id, topic, payload) if stamped else None
            item = Item.from_decoded(decoded, received_at, alarm=alarm, item_id=item_id)
            if self._no_news(profile, key, item):
                self._counters.readings_within_deadband += 1
                return None
            self._last_forwarded[key] = item
            return item
        except DecodeError as exc:
            known = catalogue.profile_for_topic(topic) is not None
            self._dead_letter(topic, payload, "decode" if known else "unknown_topic", exc.reason)
        except ValidationError as exc:
            self._dead_letter(topic, payload, "decode", validation_summary(exc, root="payload"))
        except Exception as exc:  # a bad message must never stop the agent
            if self._dead_letters.by_category.get("internal", 0) < INTERNAL_TRACEBACKS:
                log.exception("unexpected error decoding a message on %s", topic)
            self._dead_letter(topic, payload, "internal", f"{type(exc).__name__}: {exc}")
        return None

    def _dead_letter(self, topic: str, payload: bytes, category: str, reason: str) -> None:
        self._dead_letters.record(topic=topic, payload=payload, category=category, reason=reason)

    def _no_news(self, profile: Profile, key: DeviceKey, item: Item) -> bool:
        last = self._last_forwarded.get(key)
        if last is None or last.faults != item.faults or item.alarm != last.alarm:
            return False
        if (item.received_at - last.received_at).total_seconds() >= profile.heartbeat_s / 2:
            return False
        return not is_news(profile, last.metrics, item.metrics)
