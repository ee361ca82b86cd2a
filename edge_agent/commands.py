"""Commands from the cloud, checked and put into the form the local broker carries.

A valid :class:`~device_profiles.protocol.Command` is relayed to the gateway's local broker
on ``linli/v1/local/cmd/{device_id}`` as ``{"id", "command", "args"}`` JSON. Encoding a
command the way each device type expects (per profile) is a later step; until then devices
(and the simulators) read this generic form. Relaying is at least once: a command whose
PUBACK was lost is published again, and ``id`` lets a device ignore the repeat.
"""

from __future__ import annotations

from pydantic import ValidationError

from device_profiles.protocol import Command
from edge_agent.deadletter import validation_summary


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
        return None, validation_summary(exc)
    if not _topic_level_ok(command.device_id):
        return None, f"device_id {command.device_id!r} cannot be a topic level"
    return command, ""


def local_payload(command: Command) -> bytes:
    """The JSON a device receives: ``{"id", "command", "args"}``."""
    return command.model_dump_json(include={"id", "command", "args"}).encode("utf-8")


def _topic_level_ok(value: str) -> bool:
    return bool(value) and not any(ch in value for ch in "/+#\0")
