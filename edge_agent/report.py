"""What ``linli edge status`` shows: the outbox as it is on disk, and the agent's last word.

The backlog, the oldest item, the disk used and what was ever dropped come from the outbox
database itself, opened read-only, so they are current whether the agent runs or not. The
uplink, the devices heard from recently and the agent's counters come from the status file
it writes every few seconds (:mod:`edge_agent.status`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_agent import outbox_db
from edge_agent.outbox_db import Backlog
from edge_agent.status import STATUS_FILE, StatusFile, backlog_figures, read_status


@dataclass(frozen=True)
class GatewayReport:
    """The outbox's figures (None without an outbox) and the last status file (None
    without one), read at ``now``."""

    data_dir: Path
    backlog: Backlog | None
    status: StatusFile | None
    now: datetime

    @property
    def running(self) -> bool:
        return self.status is not None and self.status.live(self.now)

    def figures(self) -> dict[str, Any]:
        """Everything as one JSON-ready object (``--json``)."""
        status = self.status
        figures: dict[str, Any] = dict(status.counters) if status else {}
        if self.backlog is not None:
            budget = int(figures.get("outbox_budget_bytes", 0))
            figures.update(backlog_figures(self.backlog, budget, self.now.timestamp()))
        return {
            "data_dir": str(self.data_dir),
            "gateway_id": status.gateway_id if status else None,
            "running": self.running,
            "status_written_at": status.written_at.isoformat() if status else None,
            "uplink": status.uplink if status and self.running else False,
            "uplink_since": status.uplink_since.isoformat()
            if status and status.uplink_since
            else None,
            "figures": figures,
        }


def read_report(data_dir: Path) -> GatewayReport:
    """What ``data_dir`` says of its gateway now; sqlite3.Error if the outbox is unreadable."""
    path = data_dir / "outbox.db"
    backlog = None
    if path.is_file():
        db = outbox_db.open_read_only(path)
        try:
            backlog = outbox_db.count(db)
        finally:
            db.close()
    return GatewayReport(data_dir, backlog, read_status(data_dir / STATUS_FILE), _now())


def _now() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC)


def render(report: GatewayReport) -> str:
    """The report as lines of text for a person."""
    status, backlog, now = report.status, report.backlog, report.now
    counters = status.counters if status else {}
    lines: list[str] = []
    if status is None:
        lines.append(f"agent       no status file in {report.data_dir} (never ran here?)")
    else:
        state = f"running, pid {status.pid}" if report.running else "not running"
        lines.append(f"gateway     {status.gateway_id}: agent {state}")
        lines.append(f"status      written {_ago(now, status.written_at)}")
        if report.running:
            up = "up" if status.uplink else "DOWN"
            since = f" since {_ago(now, status.uplink_since)}" if status.uplink_since else ""
            lines.append(f"uplink      {up}{since}")
            lines.append(f"local       {'connected' if status.local else 'DISCONNECTED'}")
        else:
            lines.append("uplink      unknown (the agent is not running)")
    if backlog is None:
        lines.append(f"outbox      none in {report.data_dir}")
    else:
        lines += _outbox_lines(backlog, counters, now)
    if status is not None:
        lines.append(
            f"devices     {_n(counters.get('devices_heard_recently', 0))} heard in the last hour, "
            f"{_n(counters.get('devices_in_memory', 0))} in memory"
            + ("" if report.running else " (when the agent last ran)")
        )
        if counters.get("readings_clock_ahead"):
            lines.append(
                f"clocks      {_n(counters['readings_clock_ahead'])} readings stamped ahead of "
                "their receipt since the agent started"
            )
        letters = counters.get("dead_letters", 0)
        lines.append(f"dead        {_n(letters)} dead letters since the agent started")
    return "\n".join(lines)


def _outbox_lines(backlog: Backlog, counters: dict[str, int], now: datetime) -> list[str]:
    budget = counters.get("outbox_budget_bytes", 0)
    share = f" of {_mb(budget)} budget ({100 * backlog.bytes / budget:.0f} %)" if budget else ""
    oldest = (
        _ago(now, datetime.fromtimestamp(backlog.oldest, UTC))
        if backlog.oldest is not None
        else "-"
    )
    gaps = backlog.gaps + backlog.gaps_in_flight
    lines = [
        f"backlog     alarms {_n(backlog.alarms)} · telemetry {_n(backlog.bulk)} · "
        f"in flight {_n(backlog.in_flight)} · data gaps {_n(gaps)}",
        f"oldest      item queued {oldest}",
        f"disk        {_mb(backlog.bytes)}{share}",
    ]
    if backlog.dropped:
        lines.append(
            f"dropped     {_n(backlog.dropped)} readings in {_n(backlog.gaps_recorded)} data-gap "
            f"records, ever (budget {_n(backlog.dropped_disk_budget)}, disk full "
            f"{_n(backlog.dropped_disk_full)})"
        )
    else:
        lines.append("dropped     nothing, ever")
    return lines


def _n(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172_800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
    return f"{seconds // 86_400} days ago"
