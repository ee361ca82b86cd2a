"""What the agent has done since it started, as carried in the gateway status message."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class Counters:
    """Counts since the agent started; each part of the agent adds to its own."""

    messages_received: int = 0
    items_queued: int = 0
    alarms_queued: int = 0
    redeliveries_skipped: int = 0
    items_forwarded: int = 0
    """Items in batches the cloud acknowledged."""
    alarms_forwarded: int = 0
    batches_sent: int = 0
    batches_resent: int = 0
    batches_confirmed: int = 0
    batches_rejected: int = 0
    commands_received: int = 0
    commands_relayed: int = 0
    commands_dropped: int = 0
    local_connects: int = 0
    cloud_connects: int = 0
    profile_reloads: int = 0
    profile_reload_errors: int = 0
    readings_within_deadband: int = 0

    def snapshot(self) -> dict[str, int]:
        """Every counter by name."""
        return dataclasses.asdict(self)
