"""Bulk statements for the hot path: compiled once per database, run with ``executemany``.

SQLAlchemy Core writes the SQL (``INSERT … ON CONFLICT DO NOTHING`` on SQLite and
PostgreSQL alike, guarded ``UPDATE``\\ s); :class:`Codec` turns values into what the
database driver takes directly — times as SQLite's text or PostgreSQL's timestamps, JSON as
text — so that a row costs no per-value type processing. The text of a time is exactly the
one SQLAlchemy's own SQLite type writes, so rows written here and through the ORM compare
and collide as they must (``tests/cloud/db/test_bulk.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from operator import itemgetter
from typing import Any

import pydantic_core
from pydantic_core import TzInfo
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    Insert,
    Integer,
    String,
    Table,
    TypeDecorator,
    Update,
    bindparam,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine


def insert_ignoring_conflicts(dialect: Dialect, table: Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` for SQLite and PostgreSQL."""
    if dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database dialect {dialect.name}")


_ZERO = timedelta(0)
_FIXED = (timezone, TzInfo)
"""time zones of a fixed offset: parsed times share a few such objects"""
_UTC_ZONES: dict[tzinfo, bool] = {}
"""fixed-offset zones seen, and whether each is UTC"""


def utc_text(moment: datetime) -> str:
    """UTC as SQLAlchemy's SQLite ``DateTime`` stores it: ``2025-11-27 00:01:00.000000``.

    Such text sorts and compares as the times do, so it is also what ingest orders a group's
    readings by."""
    zone = moment.tzinfo
    if zone is None:
        raise ValueError(f"a time without UTC offset cannot be stored: {moment}")
    is_utc = _UTC_ZONES.get(zone)
    if is_utc is None:
        is_utc = moment.utcoffset() == _ZERO
        if isinstance(zone, _FIXED):
            _UTC_ZONES[zone] = is_utc
    if is_utc:  # date and time apart: a zoned time's isoformat asks its zone for the offset
        return f"{moment.date().isoformat()} {moment.time().isoformat('microseconds')}"
    offset = moment.utcoffset()
    assert offset is not None
    return (moment - offset).replace(tzinfo=None).isoformat(" ", "microseconds")


def _same(moment: datetime) -> datetime:
    return moment


class Codec:
    """Values as this database's driver takes them in bulk statements."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        sqlite_like = dialect.name == "sqlite"
        self.time = utc_text if sqlite_like else _same
        """A timezone-aware time as a statement parameter."""
        self.flag: Any = int if sqlite_like else bool
        """A boolean as a statement parameter."""
        self.text_times = sqlite_like
        """Whether a time's parameter is its :func:`utc_text`."""

    @staticmethod
    def json(value: Any) -> str:
        """JSON text of metrics, fault lists, rule states (compact, as stored)."""
        return pydantic_core.to_json(value).decode()

    def inserting(self, table: Table, order: Sequence[str]) -> Bulk | CopyInsert:
        """``INSERT … ON CONFLICT DO NOTHING`` of rows in ``order`` into ``table``: on
        PostgreSQL through ``COPY`` (:class:`CopyInsert`), elsewhere with ``executemany``."""
        if self.dialect.name == "postgresql":
            return CopyInsert(table.name, tuple(order), copy_types(table, order))
        statement = insert_ignoring_conflicts(self.dialect, table).values(
            {name: bindparam(name) for name in order}
        )
        return self.statement(statement, order)

    def statement(self, statement: Insert | Update, order: Sequence[str]) -> Bulk:
        """``statement`` (its parameters made with ``bindparam`` under the names in
        ``order``) compiled for this database, to run with rows in that order."""
        compiled = statement.compile(dialect=self.dialect)
        names = tuple(order)
        if not self.dialect.positional:
            return Bulk(compiled.string, names, None)
        found = tuple(compiled.positiontup or ())
        if sorted(found) != sorted(names):
            raise RuntimeError(f"statement takes {found}, rows give {names}")
        if found == names:
            return Bulk(compiled.string, names, None)
        return Bulk(compiled.string, names, itemgetter(*(names.index(n) for n in found)))


@dataclass(frozen=True, slots=True)
class Bulk:
    """One compiled statement; :meth:`run` executes it for many rows at once."""

    sql: str
    names: tuple[str, ...]
    reorder: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None
    """For a driver taking parameters by position in another order than the rows'."""

    def run(self, connection: Connection, rows: list[tuple[Any, ...]]) -> int:
        """Execute for every row (a tuple in the order of ``names``); rows affected."""
        if not rows:
            return 0
        params: list[Any] = rows
        if not connection.dialect.positional:
            names = self.names
            params = [dict(zip(names, row, strict=True)) for row in rows]
        elif self.reorder is not None:
            params = list(map(self.reorder, rows))
        result = connection.exec_driver_sql(self.sql, params)
        return int(result.rowcount)


def copy_types(table: Table, names: Sequence[str]) -> tuple[str, ...]:
    """The types ``COPY … (FORMAT BINARY)`` sends the columns ``names`` of ``table`` as.

    JSON goes as text: in binary form a ``json`` value is its text, which this codec makes
    already (:meth:`Codec.json`)."""
    found = []
    for name in names:
        kind = table.c[name].type
        if isinstance(kind, TypeDecorator):
            kind = kind.impl_instance
        for sql_type, copy_type in _COPY_TYPES:
            if isinstance(kind, sql_type):
                found.append(copy_type)
                break
        else:
            raise RuntimeError(f"no COPY type for {table.name}.{name} ({kind})")
    return tuple(found)


_COPY_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (BigInteger, "int8"),
    (Integer, "int4"),
    (Boolean, "bool"),
    (DateTime, "timestamptz"),
    (JSON, "text"),
    (String, "text"),
)


def copy_rows(cursor: Any, sql: str, types: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``COPY … FROM STDIN (FORMAT BINARY)`` of ``rows``, each value sent as its type in
    ``types``: binary values cost the driver less than text (a time is two integers, not a
    formatted string)."""
    with cursor.copy(f"{sql} (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


@dataclass(frozen=True, slots=True)
class CopyInsert:
    """PostgreSQL: rows copied into a temporary table (binary ``COPY``, one stream), then
    inserted with one ``INSERT … SELECT … ON CONFLICT DO NOTHING``: what :class:`Bulk` does,
    without a statement per row. The temporary table lives as long as the connection and is
    emptied at every commit."""

    table: str
    names: tuple[str, ...]
    types: tuple[str, ...]

    def run(self, connection: Connection, rows: list[tuple[Any, ...]]) -> int:
        """Insert every row not stored before; rows inserted."""
        if not rows:
            return 0
        stage = f"linli_stage_{self.table}"
        columns = ", ".join(self.names)
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                f"SELECT {columns} FROM {self.table} WITH NO DATA"
            )
            copy_rows(cursor, f"COPY {stage} ({columns}) FROM STDIN", self.types, rows)
            cursor.execute(
                f"INSERT INTO {self.table} ({columns}) SELECT {columns} FROM {stage} "
                "ON CONFLICT DO NOTHING"
            )
            inserted = int(cursor.rowcount)
            cursor.execute(f"TRUNCATE {stage}")
        return inserted
