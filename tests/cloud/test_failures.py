"""Which failures are the database's (temporary: hold and retry) and which may be the
message's (try a few times, then keep it as a dead letter)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from cloud.db.engine import make_engine
from cloud.ingest.failures import describe, is_temporary
from tests.cloud.ingest_support import exclusive_lock


def failure_of(database: Path, sql: str, *, busy_timeout_s: float = 0.01) -> BaseException:
    engine = make_engine(f"sqlite:///{database}", sqlite_busy_timeout_s=busy_timeout_s)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql))
    except sa_exc.SQLAlchemyError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{sql} did not fail")


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "db.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO t VALUES (1)")
    return path


def test_a_locked_database_is_temporary(database: Path) -> None:
    with exclusive_lock(database):
        error = failure_of(database, "INSERT INTO t VALUES (2)")

    assert isinstance(error, sa_exc.OperationalError)
    assert is_temporary(error)
    assert describe(error) == "OperationalError: database is locked"


def test_errors_of_the_statement_are_not_temporary(database: Path) -> None:
    duplicate = failure_of(database, "INSERT INTO t VALUES (1)")
    no_table = failure_of(database, "INSERT INTO missing VALUES (1)")

    assert isinstance(duplicate, sa_exc.IntegrityError)
    assert not is_temporary(duplicate)
    assert isinstance(no_table, sa_exc.OperationalError)
    assert not is_temporary(no_table)
    assert not is_temporary(RuntimeError("disk on fire"))


@pytest.mark.parametrize(
    ("message", "temporary"),
    [
        ("database is locked", True),
        ("database or disk is full", True),
        ("disk I/O error", True),
        ("unable to open database file", True),
        ("attempt to write a readonly database", True),
        ("too many SQL variables", False),
    ],
)
def test_sqlite_errors_without_a_code_are_judged_by_their_text(
    message: str, temporary: bool
) -> None:
    wrapped = sa_exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError(message))
    assert is_temporary(wrapped) is temporary


class PgError(Exception):
    """What psycopg raises: the server's SQLSTATE in ``sqlstate``."""

    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"server said {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "temporary"),
    [
        ("08006", True),  # connection failure
        ("57P01", True),  # admin shutdown
        ("53100", True),  # disk full
        ("40001", True),  # serialization failure
        ("40P01", True),  # deadlock
        ("55P03", True),  # lock not available
        ("25006", True),  # read-only transaction: a standby after fail-over
        ("23505", False),  # unique violation
        ("22001", False),  # string too long
        ("42P01", False),  # undefined table
    ],
)
def test_postgresql_errors_are_judged_by_sqlstate(sqlstate: str, temporary: bool) -> None:
    assert is_temporary(sa_exc.DBAPIError("SELECT 1", {}, PgError(sqlstate))) is temporary


def test_an_operational_error_from_another_driver_is_temporary() -> None:
    assert is_temporary(sa_exc.OperationalError("connect", {}, PgError(None)))
    assert not is_temporary(sa_exc.DataError("INSERT", {}, PgError(None)))


def test_lost_connections_are_temporary() -> None:
    invalidated = sa_exc.DBAPIError("SELECT 1", {}, PgError("XX000"), connection_invalidated=True)
    assert is_temporary(invalidated)
    assert is_temporary(sa_exc.DisconnectionError("gone"))
    assert is_temporary(sa_exc.TimeoutError("pool exhausted"))


def test_sqlite_waits_for_a_lock_as_long_as_configured(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", sqlite_busy_timeout_s=7.5)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() == 7500
    finally:
        engine.dispose()


def test_describe_leaves_out_the_sql_and_its_parameters(database: Path) -> None:
    error = failure_of(database, "INSERT INTO t VALUES (1)")

    assert describe(error) == "IntegrityError: UNIQUE constraint failed: t.id"
    assert describe(ValueError("")) == "ValueError"
