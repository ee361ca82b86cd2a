"""How much of a device row a group of batches changed, and how PostgreSQL writes the
changed rows back: copied into a temporary table, locked in the order of their ids, updated
by one statement that checks each row's version (:class:`~cloud.ingest.devices.DeviceCache`
writes SQLite's with one guarded statement per level instead)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from cloud.db.bulk import copy_rows

UNTOUCHED, SEEN, STATE, FULL = 0, 1, 2, 3
"""How much of a device row a group changed, least first: nothing; when it was last heard
from; also its metrics and last reading's time; also its faults, health and rules' memory."""


_STAGE_DEVICES = """
CREATE TEMPORARY TABLE IF NOT EXISTS linli_stage_devices (
    pk bigint, version integer, level smallint, seen timestamptz, metrics json,
    ts timestamptz, pv text, faults json, health text, rules json
) ON COMMIT DELETE ROWS
"""
_COPY_DEVICES = (
    "COPY linli_stage_devices (pk, version, level, seen, metrics, ts, pv, faults, health, rules)"
    " FROM STDIN"
)
_STAGE_TYPES = (
    "int8", "int4", "int2", "timestamptz", "text", "timestamptz", "text", "text", "text", "text"
)  # fmt: skip
_LOCK_DEVICES = """
SELECT d.id FROM devices d JOIN linli_stage_devices s ON s.pk = d.id ORDER BY d.id FOR UPDATE OF d
"""
_UPDATE_DEVICES = f"""
UPDATE devices d SET
    last_seen_at = s.seen,
    version = d.version + 1,
    metrics = CASE WHEN s.level >= {STATE} THEN s.metrics ELSE d.metrics END,
    last_ts = CASE WHEN s.level >= {STATE} THEN s.ts ELSE d.last_ts END,
    profile_version = CASE WHEN s.level >= {STATE} THEN s.pv ELSE d.profile_version END,
    faults = CASE WHEN s.level = {FULL} THEN s.faults ELSE d.faults END,
    health = CASE WHEN s.level = {FULL} THEN s.health ELSE d.health END,
    rule_state = CASE WHEN s.level = {FULL} THEN s.rules ELSE d.rule_state END
FROM linli_stage_devices s
WHERE d.id = s.pk AND d.version = s.version
"""


def write_staged(
    connection: Connection,
    seen_rows: list[tuple[Any, ...]],
    state_rows: list[tuple[Any, ...]],
    full_rows: list[tuple[Any, ...]],
) -> int:
    """PostgreSQL: the rows of every level copied into a temporary table, their devices
    locked in the order of their ids (two workers writing the same devices wait for one
    another instead of deadlocking), then updated with one guarded statement; rows
    updated. Rows are as :meth:`~cloud.ingest.devices.DeviceCache.write` makes them for
    each level."""
    if not (seen_rows or state_rows or full_rows):
        return 0
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(_STAGE_DEVICES)
        rows: list[tuple[Any, ...]] = [
            (pk, version, SEEN, seen, None, None, None, None, None, None)
            for seen, pk, version in seen_rows
        ]
        rows += [
            (pk, version, STATE, seen, metrics, ts, pv, None, None, None)
            for seen, metrics, ts, pv, pk, version in state_rows
        ]
        rows += [
            (pk, version, FULL, seen, metrics, ts, pv, faults, health, rules)
            for seen, metrics, ts, pv, faults, health, rules, pk, version in full_rows
        ]
        copy_rows(cursor, _COPY_DEVICES, _STAGE_TYPES, rows)
        cursor.execute(_LOCK_DEVICES)
        cursor.execute(_UPDATE_DEVICES)
        changed = int(cursor.rowcount)
        cursor.execute("TRUNCATE linli_stage_devices")
    return changed
