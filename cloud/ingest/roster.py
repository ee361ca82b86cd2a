"""Which gateways ingest hears: those provisioned (by a site file or the API) and not retired.

A batch from any other gateway is not taken: it is not stored, not acknowledged (so it stays
safe in the gateway's outbox and is sent again once the gateway is provisioned), counted, and
recorded in ``unknown_gateways`` for operator admins, so that a forgotten provisioning step
shows at once. A status message from such a gateway is ignored and recorded the same way.

The roster reads the gateways' rows at most every ``refresh_s`` per gateway (ingest asks for
every group), so provisioning or retiring takes effect within that time in every worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.models import Gateway, UnknownGateway
from cloud.metrics import CloudMetrics

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
RETIRED = "retired"

_CHUNK = 400


@dataclass
class Refusals:
    """What one gateway sent that was not taken."""

    batches: int = 0
    readings: int = 0
    statuses: int = 0


class GatewayRoster:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        metrics: CloudMetrics,
        clock: Callable[[], datetime],
        *,
        refresh_s: float = 5.0,
        recorded_max: int = 10_000,
    ) -> None:
        self._sessions = sessions
        self._metrics = metrics
        self._clock = clock
        self._refresh_s = refresh_s
        self._recorded_max = recorded_max
        """unknown gateways recorded at most (ids are whatever a client sends)"""
        self._known: dict[str, tuple[str | None, float]] = {}
        """gateway → (why it is refused, or None if heard; when that was read)"""
        self._recorded: set[str] = set()
        dialect = sessions.kw["bind"].dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    def refused(self, gateway_ids: Iterable[str]) -> dict[str, str]:
        """Of ``gateway_ids``, those not heard, with why: ``unknown`` or ``retired``."""
        now = time.monotonic()
        wanted = set(gateway_ids)
        known, refresh_s = self._known, self._refresh_s
        stale = sorted(g for g in wanted if g not in known or now - known[g][1] >= refresh_s)
        if stale:
            self._read(stale, now)
        return {g: reason for g in wanted if (reason := self._known[g][0]) is not None}

    def forget(self, gateway_ids: Iterable[str] | None = None) -> None:
        """Read these gateways (all, if None) afresh next time: they were just provisioned
        or retired in this process."""
        if gateway_ids is None:
            self._known.clear()
        else:
            for gateway_id in gateway_ids:
                self._known.pop(gateway_id, None)

    def _read(self, gateway_ids: list[str], now: float) -> None:
        found: dict[str, str | None] = {}
        with self._sessions() as session:
            for start in range(0, len(gateway_ids), _CHUNK):
                chunk = gateway_ids[start : start + _CHUNK]
                rows = session.execute(
                    select(Gateway.id, Gateway.provisioned_at, Gateway.retired_at).where(
                        Gateway.id.in_(chunk)
                    )
                )
                for gateway_id, provisioned_at, retired_at in rows:
                    if retired_at is not None:
                        found[gateway_id] = RETIRED
                    elif provisioned_at is None:
                        found[gateway_id] = UNKNOWN
                    else:
                        found[gateway_id] = None
        for gateway_id in gateway_ids:
            self._known[gateway_id] = (found.get(gateway_id, UNKNOWN), now)

    def record(self, refusals: Mapping[str, Refusals], reasons: Mapping[str, str]) -> None:
        """Count what was not taken and keep it for operator admins: one upsert per gateway."""
        metrics = self._metrics
        for gateway_id, refused in refusals.items():
            if refused.batches:
                metrics.batches.labels(result="unprovisioned").inc(refused.batches)
            if refused.readings:
                metrics.items.labels(result="unprovisioned").inc(refused.readings)
            if gateway_id not in self._recorded:
                log.warning(
                    "gateway %s is %s: its messages are not taken until it is provisioned",
                    gateway_id,
                    reasons[gateway_id],
                )
        rows = [
            {
                "id": gateway_id,
                "first_seen_at": self._clock(),
                "last_seen_at": self._clock(),
                "batches": refused.batches,
                "readings": refused.readings,
                "statuses": refused.statuses,
                "reason": reasons[gateway_id],
            }
            for gateway_id, refused in sorted(refusals.items())
            if gateway_id in self._recorded or len(self._recorded) < self._recorded_max
        ]
        if not rows:
            return
        statement = self._insert(UnknownGateway.__table__)  # type: ignore[arg-type]
        table = UnknownGateway.__table__.c
        statement = statement.on_conflict_do_update(
            index_elements=[table.id],
            set_={
                "last_seen_at": statement.excluded.last_seen_at,
                "batches": table.batches + statement.excluded.batches,
                "readings": table.readings + statement.excluded.readings,
                "statuses": table.statuses + statement.excluded.statuses,
                "reason": statement.excluded.reason,
            },
        )
        with self._sessions.begin() as session:
            session.execute(statement, rows)
        self._recorded.update(str(row["id"]) for row in rows)
