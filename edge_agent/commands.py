"""Commands from the cloud, checked, routed to their device and relayed by the local broker.

A valid :class:`~device_profiles.protocol.Command` reaches its device in the vendor's words
when the device's profile defines that command (``device_profiles.commands``), else in the
generic form on ``linli/v1/local/cmd/{device_id}`` as ``{"id", "command", "args"}`` JSON.
Unusable commands (invalid, retained, not encodable) go to the dead-letter log.
Relaying is at least once: a command whose PUBACK was lost is published again, and ``id``
lets a device ignore the repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from pydantic import ValidationError

from device_profiles import Catalogue
from device_profiles.commands import CommandError, encode_command
from device_profiles.protocol import Command, command_topic, local_command_topic
from edge_agent.deadletter import DeadLetters
from edge_agent.intake import DeviceRoutes
from edge_agent.status import Counters
from plumbing.issues import validation_summary
from plumbing.mqtt import Client

log = logging.getLogger(__name__)

MAX_PENDING_COMMANDS = 1000


def parse_command(payload: bytes, *, retained: bool) -> tuple[Command | None, str]:
    """The command in ``payload``, or None and the reason it is not usable.

    Retained commands are refused: the broker would replay them at every reconnect,
    and opening a gate twice is not harmless.
    """
    if retained:
        return None, "retained command ignored: commands must not be retained"
    try:
        command = Command.model_validate_json(payload)
    except ValidationError as exc:
        return None, validation_summary(exc, root="payload")
    if not _topic_level_ok(command.device_id):
        return None, f"device_id {command.device_id!r} cannot be a topic level"
    return command, ""


def local_payload(command: Command) -> bytes:
    """The JSON a device receives in the generic form: ``{"id", "command", "args"}``."""
    return command.model_dump_json(include={"id", "command", "args"}).encode("utf-8")


def _topic_level_ok(value: str) -> bool:
    return bool(value) and not any(ch in value for ch in "/+#\0")


class CommandRelay:
    """Commands waiting for the local broker, in arrival order, at most
    :data:`MAX_PENDING_COMMANDS` (the oldest go first)."""

    def __init__(
        self,
        gateway_id: str,
        routes: DeviceRoutes,
        dead_letters: DeadLetters,
        counters: Counters,
        catalogue: Catalogue,
    ) -> None:
        self.catalogue = catalogue
        """The profiles commands are encoded with; replaced when profiles are reloaded."""
        self._topic = command_topic(gateway_id)
        self._routes = routes
        self._dead_letters = dead_letters
        self._counters = counters
        self._waiting: deque[tuple[str, bytes]] = deque()
        self._ready = asyncio.Event()

    def accept(self, payload: bytes, *, retained: bool = False) -> bool:
        """Check one command from the cloud and queue it; dead-letter it if unusable."""
        command, reason = parse_command(payload, retained=retained)
        if command is None:
            self._dead_letter(payload, reason)
            return False
        try:
            routed = self._route(command)
        except CommandError as exc:
            self._dead_letter(payload, str(exc))
            return False
        if len(self._waiting) >= MAX_PENDING_COMMANDS:
            self._waiting.popleft()
            self._counters.commands_dropped += 1
            log.warning(
                "%d commands wait for the local broker: dropped the oldest", MAX_PENDING_COMMANDS
            )
        self._waiting.append(routed)
        self._counters.commands_received += 1
        self._ready.set()
        return True

    def _dead_letter(self, payload: bytes, reason: str) -> None:
        self._dead_letters.record(
            topic=self._topic, payload=payload, category="command", reason=reason
        )

    def _route(self, command: Command) -> tuple[str, bytes]:
        """Where and how a command reaches its device: in the vendor's words when the
        device's profile defines commands, else in the generic form on the local topic."""
        seen = self._routes.get(command.device_id)
        profile = self.catalogue.get(seen[0]) if seen else None
        if seen is None or profile is None or not profile.commands:
            return local_command_topic(command.device_id), local_payload(command)
        return encode_command(profile, command.device_id, command.command, command.args, seen[1])

    async def relay(self, conn: Client) -> None:
        """Publish waiting commands on ``conn`` as they come, until it fails (a command that
        was not acknowledged stays first in line)."""
        while True:
            while self._waiting:
                topic, body = self._waiting[0]
                await conn.publish(topic, body, qos=1)
                self._waiting.popleft()
                self._counters.commands_relayed += 1
                log.info("relayed a command to %s", topic)
            self._ready.clear()
            await self._ready.wait()
