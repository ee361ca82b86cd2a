"""What the agent has done and holds: its counters, the gateway's figures, the status file.

The same figures go to the cloud in the gateway status message
(:class:`~device_profiles.protocol.GatewayStatus` ``counters``) and to
``<data_dir>/status.json``, which the agent writes every ``status_file_interval_s``
(atomically: a reader sees the last whole file) for ``linli edge status``.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from edge_agent.outbox_db import Backlog

STATUS_FILE = "status.json"
RECENT_DEVICES_S = 3600
"""Devices heard from within this many seconds count as heard from recently."""


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
    gaps_forwarded: int = 0
    """Data-gap records in batches the cloud acknowledged."""
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
    readings_clock_ahead: int = 0
    """Readings stamped further ahead of their receipt than the allowed clock skew."""
    outbox_full: int = 0
    """Commits refused for a full disk with nothing left to drop (then retried)."""

    def snapshot(self) -> dict[str, int]:
        """Every counter by name."""
        return dataclasses.asdict(self)


def backlog_figures(backlog: Backlog, budget_bytes: int, now: float) -> dict[str, int]:
    """The outbox's figures as the gateway status carries them."""
    oldest = backlog.oldest
    return {
        "items_waiting": backlog.items,
        "alarms_waiting": backlog.alarms,
        "telemetry_waiting": backlog.bulk,
        "items_in_flight": backlog.in_flight,
        "gaps_waiting": backlog.gaps + backlog.gaps_in_flight,
        "oldest_item_age_s": 0 if oldest is None else max(0, int(now - oldest)),
        "outbox_bytes": backlog.bytes,
        "outbox_budget_bytes": budget_bytes,
        "items_dropped": backlog.dropped,
        "items_dropped_disk_budget": backlog.dropped_disk_budget,
        "items_dropped_disk_full": backlog.dropped_disk_full,
        "gaps_recorded": backlog.gaps_recorded,
    }


class StatusFile(BaseModel):
    """``<data_dir>/status.json``: the running agent's state, for ``linli edge status``."""

    model_config = ConfigDict(extra="ignore")

    gateway_id: str
    pid: int
    running: bool = Field(description="false in the file written last, at a clean stop")
    started_at: datetime
    written_at: datetime
    interval_s: float = Field(description="how often the agent writes this file")
    uplink: bool = Field(description="connected to the cloud broker")
    uplink_since: datetime | None = Field(description="when the uplink last went up or down")
    local: bool = Field(description="connected to the gateway broker")
    counters: dict[str, int]

    def live(self, now: datetime) -> bool:
        """Whether the agent that wrote this file is still running: it said so, wrote it
        lately, and its process is there."""
        fresh = (now - self.written_at).total_seconds() < 3 * self.interval_s + 1
        return self.running and fresh and _process_exists(self.pid)


def write_status(path: Path, status: StatusFile) -> None:
    """Replace ``path`` with ``status`` at once (a reader never sees half a file). Blocks on
    the disk: the agent calls it in a worker thread."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(status.model_dump_json(indent=1), encoding="utf-8")
    staging.replace(path)


def read_status(path: Path) -> StatusFile | None:
    """The status file at ``path``; None if there is none or it cannot be read."""
    try:
        return StatusFile.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
