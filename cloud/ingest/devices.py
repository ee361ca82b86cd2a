"""Device state for ingest: kept warm in memory, loaded and registered in bulk, written back
only where nobody changed it meanwhile.

:class:`DeviceCache` holds the state of devices ingest has seen lately (bounded; the least
recently used go first). A group of batches takes a working copy of each device it touches
(:meth:`DeviceCache.take`): devices not in memory are loaded in one query per gateway, those
never seen are registered in bulk: bound to a facility by a binding, else unassigned, or a
facility of their own where the gateway's policy says ``own-facility``. The copies are judged in
memory and written back guarded, ``UPDATE … WHERE id = ? AND version = ?``: on SQLite one
statement per device (``executemany``); on PostgreSQL copied into a temporary table, locked
in the order of their ids (so that two workers writing the same devices wait for one
another rather than deadlock) and updated with one statement. Only after the commit do
they replace the cached states.

What keeps the cache correct: every change of a device row bumps its ``version`` (the ORM
does it for the silence sweep, resolved tickets and operators; ingest's own updates do it
explicitly). Should an update find another version than the one cached, the device was
changed behind ingest's back: :class:`StaleDevices` names those devices, the group is rolled
back, and judged again from their fresh state. So a second worker, or any other writer, may
change a device at any time; nothing it wrote is overwritten.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    insert,
    literal_column,
    select,
    tuple_,
    update,
)

from cloud.db.bulk import Codec
from cloud.db.models import Device, DeviceBinding, Facility, Gateway, NewDevices
from cloud.ingest.staged_devices import FULL, SEEN, STATE, UNTOUCHED, write_staged
from device_profiles import Catalogue
from device_profiles.rules import RuleState
from device_profiles.schema import Scalar

log = logging.getLogger(__name__)

DeviceKey = tuple[str, str]
"""(gateway_id, device_id)"""

_CHUNK = 500
"""Devices per query (SQLite allows some thousands of parameters per statement)."""

DEVICES = cast(Table, Device.__table__)
FACILITIES = cast(Table, Facility.__table__)
BINDINGS = cast(Table, DeviceBinding.__table__)
GATEWAYS = cast(Table, Gateway.__table__)


class StaleDevices(Exception):
    """Devices changed by someone else since ingest read them; their state is reloaded and
    the group judged again."""

    def __init__(self, keys: set[DeviceKey]) -> None:
        super().__init__(f"{len(keys)} device(s) changed meanwhile")
        self.keys = keys


@dataclass(slots=True)
class DeviceState:
    """One device as ingest judges it; mirrors its ``devices`` row at ``version``."""

    key: DeviceKey
    pk: int
    facility_id: int | None
    """None: unassigned (its faults open no tickets until it is bound)"""
    profile: str
    profile_version: str
    version: int
    health: str
    faults: tuple[str, ...]
    metrics: Mapping[str, Scalar]
    metrics_json: str | None
    """``metrics`` as JSON text when known (the reading's own), else made on writing."""
    rules: RuleState
    """What the rules remember; its ``last_ts`` is :attr:`last_ts`."""
    stored_rules: RuleState
    """The rule memory as stored, to write it only when it changed."""
    last_ts: datetime | None
    last_seen_at: datetime | None
    last_ts_param: Any = None
    """``last_ts`` as a statement parameter, when known (the reading's own)."""
    changed: int = UNTOUCHED
    """What a group changed: UNTOUCHED, SEEN (``last_seen_at``), STATE (also metrics and
    event time), FULL (also faults, health and rule memory)."""

    def mark(self, level: int) -> None:
        if level > self.changed:
            self.changed = level

    def copy(self) -> DeviceState:
        """A working copy, nothing changed yet (what it holds is never changed in place)."""
        return DeviceState(
            self.key,
            self.pk,
            self.facility_id,
            self.profile,
            self.profile_version,
            self.version,
            self.health,
            self.faults,
            self.metrics,
            self.metrics_json,
            self.rules,
            self.stored_rules,
            self.last_ts,
            self.last_seen_at,
            self.last_ts_param,
        )


def _pk(state: DeviceState) -> int:
    return state.pk


def _state(row: Any) -> DeviceState:
    stored = RuleState.from_json(row.rule_state) if row.rule_state else RuleState()
    last_ts = row.last_ts
    return DeviceState(
        key=(row.gateway_id, row.device_id),
        pk=row.id,
        facility_id=row.facility_id,
        profile=row.profile,
        profile_version=row.profile_version,
        version=row.version,
        health=row.health,
        faults=tuple(row.faults),
        metrics=row.metrics,
        metrics_json=None,
        rules=replace(stored, last_ts=last_ts),
        stored_rules=stored,
        last_ts=last_ts,
        last_seen_at=row.last_seen_at,
    )


_COLUMNS = (
    DEVICES.c.id,
    DEVICES.c.gateway_id,
    DEVICES.c.device_id,
    DEVICES.c.facility_id,
    DEVICES.c.profile,
    DEVICES.c.profile_version,
    DEVICES.c.version,
    DEVICES.c.health,
    DEVICES.c.faults,
    DEVICES.c.metrics,
    DEVICES.c.rule_state,
    DEVICES.c.last_ts,
    DEVICES.c.last_seen_at,
)


class DeviceCache:
    """The state of the devices ingest saw lately, at most ``size`` of them."""

    def __init__(self, catalogue: Catalogue, codec: Codec, size: int = 200_000) -> None:
        self._catalogue = catalogue
        self._codec = codec
        self._size = size
        self._states: dict[DeviceKey, DeviceState] = {}
        version = DEVICES.c.version
        where = (DEVICES.c.id == bindparam("b_pk"), version == bindparam("b_version"))
        seen = {"last_seen_at": bindparam("b_seen"), "version": version + literal_column("1")}
        state = {
            **seen,
            "metrics": bindparam("b_metrics"),
            "last_ts": bindparam("b_ts"),
            "profile_version": bindparam("b_pv"),
        }
        full = {
            **state,
            "faults": bindparam("b_faults"),
            "health": bindparam("b_health"),
            "rule_state": bindparam("b_rules"),
        }
        statements = {
            SEEN: (seen, ("b_seen", "b_pk", "b_version")),
            STATE: (state, ("b_seen", "b_metrics", "b_ts", "b_pv", "b_pk", "b_version")),
            FULL: (
                full,
                (
                    "b_seen",
                    "b_metrics",
                    "b_ts",
                    "b_pv",
                    "b_faults",
                    "b_health",
                    "b_rules",
                    "b_pk",
                    "b_version",
                ),
            ),
        }
        self._updates = {
            level: codec.statement(
                update(DEVICES)
                .where(*where)
                .values(values)
                .execution_options(synchronize_session=False),
                order,
            )
            for level, (values, order) in statements.items()
        }

    def __len__(self) -> int:
        return len(self._states)

    def forget(self, keys: Iterable[DeviceKey] | None = None) -> None:
        """Drop what is known of ``keys`` (of every device when None)."""
        if keys is None:
            self._states.clear()
            return
        for key in keys:
            self._states.pop(key, None)

    def take(
        self, connection: Connection, wanted: Mapping[DeviceKey, Any], now: datetime
    ) -> dict[DeviceKey, DeviceState]:
        """Working copies of the devices ``wanted`` (key → an item of the device, to
        register it from), loading the ones not in memory and registering the new."""
        found: dict[DeviceKey, DeviceState] = {}
        missing: list[DeviceKey] = []
        states = self._states
        for key in wanted:
            cached = states.get(key)
            if cached is None:
                missing.append(key)
            else:
                found[key] = cached.copy()
        if missing:
            loaded = self._load(connection, missing)
            found.update(loaded)
            new = [key for key in missing if key not in loaded]
            if new:
                found.update(self._register(connection, {k: wanted[k] for k in new}, now))
        return found

    def write(self, connection: Connection, states: Iterable[DeviceState], *, seen: Any) -> None:
        """Write back what a group changed, each row only if still at its version, with
        ``seen`` (the group's time as a parameter) as the time they were last heard from;
        :class:`StaleDevices` (to roll back) if any was changed meanwhile."""
        codec = self._codec
        to_json, time = codec.json, codec.time
        seen_rows: list[tuple[Any, ...]] = []
        state_rows: list[tuple[Any, ...]] = []
        full_rows: list[tuple[Any, ...]] = []
        written: list[DeviceState] = []
        for state in sorted(states, key=_pk):  # in the order of their keys, as they are locked
            level = state.changed
            if level == UNTOUCHED:
                continue
            written.append(state)
            if level == SEEN:
                seen_rows.append((seen, state.pk, state.version))
                continue
            if state.metrics_json is None:
                state.metrics_json = to_json(state.metrics)
            last_ts = state.last_ts_param
            if last_ts is None and state.last_ts is not None:
                last_ts = state.last_ts_param = time(state.last_ts)
            head = (seen, state.metrics_json, last_ts, state.profile_version)
            if level == STATE:
                state_rows.append((*head, state.pk, state.version))
                continue
            memory = replace(state.rules, last_ts=None)
            stored = json.dumps(memory.to_json())
            faults = to_json(state.faults)
            full_rows.append((*head, faults, state.health, stored, state.pk, state.version))
            state.stored_rules = memory
        if self._codec.dialect.name == "postgresql":
            changed = write_staged(connection, seen_rows, state_rows, full_rows)
        else:  # SQLite: one writer at a time, so no lock order to keep
            updates = self._updates
            changed = updates[SEEN].run(connection, seen_rows)
            changed += updates[STATE].run(connection, state_rows)
            changed += updates[FULL].run(connection, full_rows)
        if changed != len(written):
            raise StaleDevices(self._stale(connection, written))

    def keep(self, states: Iterable[DeviceState]) -> None:
        """After the commit: the written states are the devices' now."""
        cache = self._states
        for state in states:
            if state.changed != UNTOUCHED:
                state.version += 1
                state.changed = UNTOUCHED
            cache.pop(state.key, None)
            cache[state.key] = state
        while len(cache) > self._size:
            del cache[next(iter(cache))]

    @staticmethod
    def _stale(connection: Connection, written: list[DeviceState]) -> set[DeviceKey]:
        by_pk = {state.pk: state for state in written}
        stale: set[DeviceKey] = set()
        pks = list(by_pk)
        for start in range(0, len(pks), _CHUNK):
            chunk = pks[start : start + _CHUNK]
            query = select(DEVICES.c.id, DEVICES.c.version).where(DEVICES.c.id.in_(chunk))
            current = dict(connection.execute(query).tuples().all())
            for pk in chunk:
                if current.get(pk) != by_pk[pk].version:
                    stale.add(by_pk[pk].key)
        return stale or {state.key for state in written}

    @staticmethod
    def _load(connection: Connection, keys: list[DeviceKey]) -> dict[DeviceKey, DeviceState]:
        found: dict[DeviceKey, DeviceState] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            pair = tuple_(DEVICES.c.gateway_id, DEVICES.c.device_id)
            query = select(*_COLUMNS).where(pair.in_(chunk))
            for row in connection.execute(query):
                state = _state(row)
                found[state.key] = state
        return found

    def _register(
        self, connection: Connection, new: Mapping[DeviceKey, Any], now: datetime
    ) -> dict[DeviceKey, DeviceState]:
        """First sight of devices: a device bound to a facility (by a site file or the API)
        joins it; any other stays unassigned, or becomes a facility of its own (in its
        gateway's community and zone) if its gateway says so (``new_devices``).
        ``new`` maps each to one of its items."""
        keys = sorted(new)
        gateway_ids = sorted({gateway_id for gateway_id, _ in keys})
        facility_of: dict[DeviceKey, int | None] = {}
        adopting: dict[str, tuple[int | None, int | None]] = {}
        """gateways whose new devices become facilities: (community, zone)"""
        for start in range(0, len(gateway_ids), _CHUNK):
            chunk = gateway_ids[start : start + _CHUNK]
            for gateway_id, device_id, facility_id in connection.execute(
                select(BINDINGS.c.gateway_id, BINDINGS.c.device_id, BINDINGS.c.facility_id).where(
                    BINDINGS.c.gateway_id.in_(chunk)
                )
            ):
                if (gateway_id, device_id) in new:
                    facility_of[(gateway_id, device_id)] = facility_id
            for gateway_id, community_id, zone_id in connection.execute(
                select(GATEWAYS.c.id, GATEWAYS.c.community_id, GATEWAYS.c.zone_id).where(
                    GATEWAYS.c.id.in_(chunk),
                    GATEWAYS.c.new_devices == NewDevices.OWN_FACILITY.value,
                )
            ):
                adopting[gateway_id] = (community_id, zone_id)
        facilities: list[dict[str, Any]] = []
        for gateway_id, device_id in keys:
            if (gateway_id, device_id) in facility_of:
                continue
            if gateway_id not in adopting:
                facility_of[(gateway_id, device_id)] = None
                continue
            community_id, zone_id = adopting[gateway_id]
            item = new[(gateway_id, device_id)]
            profile = self._catalogue.get(item.profile)
            facilities.append(
                {
                    "gateway_id": gateway_id,
                    "community_id": community_id,
                    "zone_id": zone_id,
                    "code": device_id,
                    "name": f"{profile.name if profile else item.device_type} {device_id}",
                    "category": profile.category if profile else item.device_type,
                    "health": "ok",
                    "health_since": now,
                }
            )
        for start in range(0, len(facilities), _CHUNK):
            statement = insert(FACILITIES).values(facilities[start : start + _CHUNK])
            returned = statement.returning(
                FACILITIES.c.id, FACILITIES.c.gateway_id, FACILITIES.c.code
            )
            for facility_id, gateway_id, code in connection.execute(returned):
                facility_of[(gateway_id, code)] = facility_id
        devices = []
        for key in keys:
            item = new[key]
            devices.append(
                {
                    "gateway_id": key[0],
                    "device_id": key[1],
                    "facility_id": facility_of[key],
                    "device_type": item.device_type,
                    "profile": item.profile,
                    "profile_version": item.profile_version,
                    "health": "ok",
                    "faults": [],
                    "rule_state": {},
                    "metrics": {},
                    "version": 1,
                }
            )
        registered: dict[DeviceKey, DeviceState] = {}
        for start in range(0, len(devices), _CHUNK):
            statement = insert(DEVICES).values(devices[start : start + _CHUNK])
            returned = statement.returning(DEVICES.c.id, DEVICES.c.gateway_id, DEVICES.c.device_id)
            for pk, gateway_id, device_id in connection.execute(returned):
                key = (gateway_id, device_id)
                item = new[key]
                registered[key] = DeviceState(
                    key=key,
                    pk=pk,
                    facility_id=facility_of[key],
                    profile=item.profile,
                    profile_version=item.profile_version,
                    version=1,
                    health="ok",
                    faults=(),
                    metrics={},
                    metrics_json=None,
                    rules=RuleState(),
                    stored_rules=RuleState(),
                    last_ts=None,
                    last_seen_at=None,
                )
        log.debug("registered %d device(s)", len(registered))
        return registered
