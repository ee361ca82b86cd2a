"""Which failures are temporary: the database's or the telemetry store's, not the message's.

A database or telemetry store that is down, locked, full or failing over is temporary:
ingest keeps the message, acknowledges nothing, and tries again later. Anything else may be
the message's fault; ingest tries it a few times, then keeps it as a dead letter (see
``worker.py``).
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa_exc

from cloud.telemetry.store import TelemetryUnavailable

# SQLite primary result codes (the low byte of an extended code) that say the database, not
# the statement, is the problem: busy/locked by another connection, out of memory, read-only
# (file permissions), I/O error, disk full, cannot open the file, lock protocol.
_SQLITE_TEMPORARY_CODES = frozenset({5, 6, 7, 8, 10, 13, 14, 15})
_SQLITE_TEMPORARY_TEXT = (
    "database is locked",
    "database table is locked",
    "disk i/o error",
    "database or disk is full",
    "unable to open database file",
    "readonly database",
    "out of memory",
)
# PostgreSQL SQLSTATE classes: 08 connection exception, 40 transaction rollback
# (serialization failure, deadlock), 53 insufficient resources (disk full, out of memory,
# too many connections), 57 operator intervention (shutdown, cannot connect now, statement
# cancelled), 58 system error (I/O); and single codes: 25006 read-only transaction (a
# standby after fail-over), 55006 object in use, 55P03 lock not available.
_PG_TEMPORARY_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_PG_TEMPORARY_CODES = frozenset({"25006", "55006", "55P03"})


def is_temporary(error: BaseException) -> bool:
    """Whether ``error`` means the database or the telemetry store cannot take writes now
    (so: try again later)."""
    if isinstance(error, TelemetryUnavailable):
        return True
    if isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True  # a dropped connection, or no free connection in the pool
    cause: BaseException = error
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        if isinstance(error.orig, BaseException):
            cause = error.orig
    if isinstance(cause, sqlite3.Error):
        return _sqlite_temporary(cause)
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if isinstance(state, str) and len(state) == 5:
        return state[:2] in _PG_TEMPORARY_CLASSES or state in _PG_TEMPORARY_CODES
    # another driver, or a connection that failed before the server said anything: an
    # operational error is about the database's operation, not about the data
    return isinstance(error, sa_exc.OperationalError)


def _sqlite_temporary(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_TEMPORARY_CODES
    text = str(error).lower()
    return any(part in text for part in _SQLITE_TEMPORARY_TEXT)


def describe(error: BaseException) -> str:
    """One line for logs and dead letters: the error's type and first line, without the SQL
    and parameters SQLAlchemy appends (a batch's parameters can be megabytes)."""
    shown: BaseException = error
    if isinstance(error, sa_exc.DBAPIError) and isinstance(error.orig, BaseException):
        shown = error.orig
    text = str(shown).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(shown).__name__}: {first}" if first else type(shown).__name__
