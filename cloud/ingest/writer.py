"""Stores groups of batches, each group in one transaction, set-based and idempotently.

For a group, in one transaction: the batch identities are claimed, the readings inserted
and the data-gap records the batches carry (readings their gateways had to drop) stored,
with one bulk statement each (``claims``); the devices they touch are taken from
memory, loaded in one query or registered in bulk (``devices``); the new readings are
judged in memory in event-time order (``cloud.health``); tickets are touched only where a
fault is reported, starts or ends, facilities only where a device's health changed; the
devices' new state is written back with one guarded update each. When
:meth:`BatchWriter.write_group` returns, the transaction has committed: only then may the
batches be acknowledged to their gateways.

A batch whose identity (gateway, epoch, seq) was stored before is not stored again; an
item or a data-gap record stored before (whichever batch brought it) is skipped too.
Should the group meet something stored before, or a device changed behind its back, it is
rolled back and done again (carefully, or from the device's fresh state); its outcome is
the same.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.bulk import Codec
from cloud.db.models import Gateway
from cloud.health import HealthEngine, Judgement
from cloud.ingest.claims import Claims, ReadingKey, Recheck, reading_key, warn_identity_reused
from cloud.ingest.devices import DeviceCache, DeviceKey, DeviceState, StaleDevices
from cloud.metrics import CloudMetrics
from cloud.repair.desk import TicketDesk
from cloud.telemetry.marks import RollupMarks
from cloud.telemetry.store import MINUTE, RawPoint, TelemetryStore
from device_profiles import Catalogue
from device_profiles.protocol import GatewayStatus
from device_profiles.wire import SomeBatch, SomeGap, SomeItem

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_ATTEMPTS = 6
"""Tries of one group: after a recheck, after devices changed meanwhile, after a
concurrent worker created the same rows first."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WriteResult:
    duplicate_batch: bool
    """The batch's identity was stored before (it was sent again)."""
    stored: int
    """Readings stored now: 0 for a batch sent again, unless its gateway reused the
    identity for other items (then they are stored all the same)."""
    duplicates: int


_Todo = tuple[str | float, int, SomeItem, DeviceState, str, bool, datetime, Any]
"""A reading to judge: (event time as SQLite's text or as seconds since 1970 — what orders
a group's readings —, batch index, item, device, metrics as JSON, whether its own time was
not trusted, event time, event time as a parameter)"""


@dataclass
class _Outcome:
    """What one try of a group found, to count once it committed."""

    claimed: list[bool]
    duplicates: set[int]
    stored: list[int]
    suspect: int
    opened: list[str]
    states: dict[DeviceKey, DeviceState]
    gaps: list[tuple[str, SomeGap]]
    """data-gap records stored now, with their gateways"""


class BatchWriter:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        catalogue: Catalogue,
        health: HealthEngine,
        metrics: CloudMetrics,
        clock: Clock = utcnow,
        *,
        device_cache_size: int = 200_000,
        telemetry: TelemetryStore | None = None,
    ) -> None:
        self._sessions = sessions
        self._health = health
        self._metrics = metrics
        self._clock = clock
        codec = Codec(sessions.kw["bind"].dialect)
        self._codec = codec
        self._claims = Claims(codec)
        self._marks = RollupMarks(codec)
        self._raw = telemetry if telemetry is not None and telemetry.name != "sql" else None
        """The store raw readings go to instead of the SQL database, if any."""
        self.devices = DeviceCache(catalogue, codec, device_cache_size)
        """The device states kept warm between groups."""

    def write(self, batch: SomeBatch) -> WriteResult:
        """Store one batch in its own transaction."""
        return self.write_group([batch])[0]

    def write_group(self, batches: Sequence[SomeBatch]) -> list[WriteResult]:
        """Store ``batches`` in one transaction; a result for each, in order."""
        careful = False
        conflicts = 0
        for _ in range(_ATTEMPTS):
            try:
                outcome = self._attempt(batches, careful=careful)
            except Recheck:
                careful = True
                continue
            except StaleDevices as stale:
                self.devices.forget(stale.keys)
                continue
            except IntegrityError:
                # a concurrent worker registered the same device first
                conflicts += 1
                if conflicts > 1:
                    raise
                self.devices.forget()
                careful = True
                continue
            return self._settled(batches, outcome)
        raise RuntimeError(f"a group of {len(batches)} batch(es) kept meeting changes")

    def _attempt(self, batches: Sequence[SomeBatch], *, careful: bool) -> _Outcome:
        now = self._clock()
        claims, health, codec = self._claims, self._health, self._codec
        with self._sessions.begin() as session:
            connection = session.connection()
            claims.heard(connection, {b.gateway_id for b in batches}, now)
            if careful:
                claimed = claims.claim_carefully(connection, batches, now)
            else:
                claims.claim(connection, batches, now)
                claimed = [True] * len(batches)
            claims.advance(connection, [b for b, c in zip(batches, claimed, strict=True) if c], now)
            if careful:
                gaps = claims.gaps_carefully(connection, batches, now)
            else:
                claims.gaps(connection, batches, now)
                gaps = [(batch.gateway_id, gap) for batch in batches for gap in batch.gaps]
            duplicates: set[int] = set()
            if careful:
                candidates = self._candidates(connection, batches, claimed, duplicates)
            else:
                candidates = [(n, item) for n, batch in enumerate(batches) for item in batch.items]
            keyed: list[tuple[int, SomeItem, DeviceKey]] = []
            wanted: dict[DeviceKey, SomeItem] = {}
            for n, item in candidates:
                key = (batches[n].gateway_id, item.device_id)
                keyed.append((n, item, key))
                if key not in wanted:
                    wanted[key] = item
            states = self.devices.take(connection, wanted, now)
            todo, rows = self._rows(keyed, states, now, careful=careful or self._raw is not None)
            if self._raw is not None:
                self._raw.write_readings(
                    [RawPoint(e[3].pk, e[3].profile, e[2].ts, e[2].metrics) for e in todo]
                )
            elif careful:
                new = claims.store_carefully(
                    connection, [(entry[2], entry[3].pk, entry[5]) for entry in todo]
                )
                todo = [entry for entry in todo if reading_key(entry[2]) in new]
            else:
                claims.store(connection, rows)
            self._marks.mark(
                connection, MINUTE, {int(e[2].ts.timestamp()) // 60 * 60 for e in todo}
            )
            stored = [0] * len(batches)
            suspect_count = 0
            judgement = Judgement()
            judge = health.judge
            todo.sort(key=itemgetter(0))
            for _, n, item, state, metrics, suspect, ts, ts_param in todo:
                stored[n] += 1
                suspect_count += suspect
                judge(state, item, ts, now, judgement)
                if state.metrics is item.metrics:
                    state.metrics_json = metrics
                if state.last_ts is ts:
                    state.last_ts_param = ts_param
            health.settle(session, judgement)
            self.devices.write(connection, states.values(), seen=codec.time(now))
            opened = list(TicketDesk.opened(session))
        return _Outcome(claimed, duplicates, stored, suspect_count, opened, states, gaps)

    def _rows(
        self,
        keyed: list[tuple[int, SomeItem, DeviceKey]],
        states: dict[DeviceKey, DeviceState],
        now: datetime,
        *,
        careful: bool,
    ) -> tuple[list[_Todo], list[tuple[Any, ...]]]:
        """For each reading: what judging it needs (with what orders it by event time), and
        its row (unless stored carefully)."""
        codec = self._codec
        time, to_json, flag = codec.time, codec.json, codec.flag
        text_times = codec.text_times
        horizon = self._health.horizon(now)
        event_time = self._health.event_time
        todo: list[_Todo] = []
        rows: list[tuple[Any, ...]] = []
        for n, item, key in keyed:
            state = states[key]
            metrics = to_json(item.metrics)
            stamped = item.ts
            ts_param = time(stamped)
            order: str | float
            if stamped <= horizon and not getattr(item, "ts_suspect", False):
                suspect = False
                ts = stamped
                judged_param = ts_param
                order = cast(str, ts_param) if text_times else ts.timestamp()
            else:
                ts, suspect = event_time(item, now)
                judged_param = time(ts)
                order = cast(str, judged_param) if text_times else ts.timestamp()
            todo.append((order, n, item, state, metrics, suspect, ts, judged_param))
            if careful:
                continue
            received = item.received_at
            rows.append(
                (
                    item.id,
                    state.pk,
                    ts_param,
                    ts_param if received == stamped else time(received),
                    item.profile_version,
                    metrics,
                    to_json(item.faults) if item.faults else "[]",
                    flag(suspect),
                )
            )
        return todo, rows

    def _candidates(
        self,
        connection: Any,
        batches: Sequence[SomeBatch],
        claimed: list[bool],
        duplicates: set[int],
    ) -> list[tuple[int, SomeItem]]:
        """The items to store of a group met again carefully: each item once (the first
        batch bringing it stores it), none of a batch that was stored before as a whole."""
        again = {
            reading_key(item)
            for batch, new in zip(batches, claimed, strict=True)
            if not new
            for item in batch.items
        }
        if self._raw is not None:
            stored_before = again  # readings elsewhere are stored once by their batch
        else:
            stored_before = self._claims.stored(connection, again) if again else set()
        seen: set[ReadingKey] = set()
        candidates: list[tuple[int, SomeItem]] = []
        for n, batch in enumerate(batches):
            items: Sequence[SomeItem] = batch.items
            keys = [reading_key(item) for item in items]
            if not claimed[n]:
                if all(key in stored_before or key in seen for key in keys):
                    duplicates.add(n)
                    continue
                warn_identity_reused(batch)
            for item, key in zip(items, keys, strict=True):
                if key not in seen:
                    seen.add(key)
                    candidates.append((n, item))
        return candidates

    def _settled(self, batches: Sequence[SomeBatch], outcome: _Outcome) -> list[WriteResult]:
        """After the commit: remember, count, and say what became of each batch."""
        self.devices.keep(outcome.states.values())
        self._claims.known_gateways(batch.gateway_id for batch in batches)
        metrics = self._metrics
        results = []
        stored_items = duplicate_items = 0
        batch_results: Counter[str] = Counter()
        for n, batch in enumerate(batches):
            stored = outcome.stored[n]
            if outcome.claimed[n]:
                batch_results["stored"] += 1
            elif n in outcome.duplicates:
                batch_results["duplicate"] += 1
            else:
                batch_results["identity_reused"] += 1
            stored_items += stored
            duplicate_items += len(batch.items) - stored
            results.append(
                WriteResult(
                    duplicate_batch=not outcome.claimed[n],
                    stored=stored,
                    duplicates=len(batch.items) - stored,
                )
            )
        for result, count in batch_results.items():
            metrics.batches.labels(result=result).inc(count)
        if stored_items:
            metrics.items.labels(result="stored").inc(stored_items)
        if duplicate_items:
            metrics.items.labels(result="duplicate").inc(duplicate_items)
        if outcome.suspect:
            metrics.readings_clock_ahead.inc(outcome.suspect)
        for gateway_id, gap in outcome.gaps:
            metrics.data_gaps.inc()
            metrics.readings_dropped_at_edge.labels(reason=gap.reason).inc(gap.items)
            log.info(
                "gateway %s dropped %d reading(s) of %s from %s to %s (%s)",
                gateway_id,
                gap.items,
                gap.device_id,
                gap.first_ts.isoformat(),
                gap.last_ts.isoformat(),
                gap.reason,
            )
        self._health.tickets.count_opened(outcome.opened)
        return results

    def record_status(self, status: GatewayStatus) -> None:
        """A provisioned gateway's retained status or last will."""
        now = self._clock()
        with self._sessions.begin() as session:
            gateway = session.get(Gateway, status.gateway_id)
            if gateway is None:
                log.warning("status of gateway %s, which has no row, ignored", status.gateway_id)
                return
            if status.online and not gateway.online:
                gateway.online_since = now
            gateway.online = status.online
            gateway.status_at = status.ts or now
            if status.counters:
                gateway.counters = dict(status.counters)
