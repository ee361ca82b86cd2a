"""Alembic migrations: they build exactly the schema the models describe, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from cloud.db.engine import alembic_config, make_engine, migrate, migrating
from cloud.db.models import Base
from linli.postgres import PostgresCluster


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, on each engine the cloud runs on."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = f"m_{uuid.uuid4().hex[:16]}"
    yield cluster.create_database(name)
    cluster.drop_database(name)


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: object) -> str | None:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return MigrationContext.configure(connection).get_current_revision()


def test_migrate_creates_every_table_and_is_idempotent(url: str) -> None:
    engine = make_engine(url)
    try:
        assert inspect(engine).get_table_names() == []

        migrate(engine)

        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert tables - set(Base.metadata.tables) == {"alembic_version"}
        assert current(engine) == head()

        migrate(engine)  # a second start on the same database

        assert current(engine) == head()
        assert set(inspect(engine).get_table_names()) == tables
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_partial_unique_index_survives_migration(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate(engine)
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("tickets")}
        assert indexes["uq_tickets_one_not_closed"]["unique"]
        assert indexes["uq_tickets_one_not_closed"]["column_names"] == ["subject", "fault"]
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                query = "SELECT sql FROM sqlite_master WHERE name = 'uq_tickets_one_not_closed'"
            else:
                query = (
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_tickets_one_not_closed'"
                )
            sql = connection.exec_driver_sql(query).scalar_one()
        assert "WHERE" in sql and "closed" in sql and "cancelled" in sql
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate(engine)
        with migrating(engine) as config:
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}

        migrate(engine)

        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_0004_keeps_stored_batches_and_dead_letters(url: str) -> None:
    """Batches stored before epochs get the epoch '' (no gateway sends it); dead letters
    kept as text become bytes, with the gateway their topic names."""
    engine = make_engine(url)
    try:
        migrate(engine, "0003")
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO ingested_batches (gateway_id, seq, ingested_at, items) "
                "VALUES ('gw-1', 7, '2025-11-27 00:00:00', 3)"
            )
            connection.exec_driver_sql(
                "INSERT INTO dead_letters (at, topic, reason, payload) VALUES "
                "('2025-11-27 00:00:00', 'linli/v1/gw/gw-1/up/batch', 'bad', '门禁 {'), "
                "('2025-11-27 00:00:01', 'elsewhere', 'odd', 'x')"
            )

        migrate(engine)

        with engine.connect() as connection:
            batches = connection.exec_driver_sql(
                "SELECT gateway_id, epoch, seq, items FROM ingested_batches"
            ).all()
            letters = connection.exec_driver_sql(
                "SELECT topic, gateway_id, category, payload, replayed_at FROM dead_letters "
                "ORDER BY id"
            ).all()
        assert [tuple(row) for row in batches] == [("gw-1", "", 7, 3)]
        assert [tuple(row) for row in letters] == [
            ("linli/v1/gw/gw-1/up/batch", "gw-1", "unknown", "门禁 {".encode(), None),
            ("elsewhere", None, "unknown", b"x", None),
        ]
    finally:
        engine.dispose()


def test_0010_puts_what_was_there_in_one_default_community(url: str) -> None:
    """Gateways already seen become provisioned there, since they were first seen; their
    facilities belong to it; devices and tickets stay as they were."""
    engine = make_engine(url)
    try:
        migrate(engine, "0009")
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO gateways (id, online, counters, first_seen_at) "
                "VALUES ('gw-1', true, '{}', '2025-11-27 00:00:00+00')"
            )
            connection.exec_driver_sql(
                "INSERT INTO facilities (id, gateway_id, code, name, category, zone, health, "
                "health_since) VALUES (1, 'gw-1', 'gate-01', 'Gate gate-01', 'access', NULL, "
                "'faulty', '2025-11-27 00:00:00+00')"
            )
            connection.exec_driver_sql(
                "INSERT INTO devices (id, gateway_id, device_id, facility_id, device_type, "
                "profile, profile_version, health, faults, metrics, rule_state, version) VALUES "
                "(1, 'gw-1', 'gate-01', 1, 'access_gate', 'acme_access_gate', '1.0.0', "
                "'faulty', '[\"motor_jammed\"]', '{}', '{}', 1)"
            )

        migrate(engine)

        with engine.connect() as connection:
            communities = connection.exec_driver_sql("SELECT id, slug FROM communities").all()
            gateway = connection.exec_driver_sql(
                "SELECT community_id, provisioned_at, first_seen_at FROM gateways"
            ).one()
            facility = connection.exec_driver_sql(
                "SELECT community_id, gateway_id, health FROM facilities"
            ).one()
            devices = connection.exec_driver_sql("SELECT facility_id, faults FROM devices").all()
        [(community, slug)] = communities
        assert slug == "default"
        assert gateway[0] == community and gateway[1] == gateway[2]
        assert tuple(facility) == (community, "gw-1", "faulty")
        assert len(devices) == 1 and devices[0][0] == 1
        with engine.connect() as connection:
            adopting = connection.exec_driver_sql("SELECT new_devices FROM gateways").scalar()
        assert adopting == "own-facility"  # its devices went on becoming facilities of their own
    finally:
        engine.dispose()


def test_0012_keeps_each_gateway_taking_new_devices_as_it_did(url: str) -> None:
    """A gateway whose devices became facilities of their own goes on so; one provisioned
    by a site file (no facility of its own yet) leaves new devices unassigned."""
    engine = make_engine(url)
    try:
        migrate(engine, "0011")
        with engine.begin() as connection:
            for gateway in ("gw-old", "gw-site"):
                connection.exec_driver_sql(
                    "INSERT INTO gateways (id, online, counters, first_seen_at, name, "
                    f"provisioned_at) VALUES ('{gateway}', true, '{{}}', "
                    "'2025-11-27 00:00:00+00', '', '2025-11-27 00:00:00+00')"
                )
            connection.exec_driver_sql(
                "INSERT INTO facilities (id, gateway_id, code, name, category, health, "
                "health_since) VALUES (1, 'gw-old', 'gate-01', 'Gate gate-01', 'access', "
                "'ok', '2025-11-27 00:00:00+00')"
            )

        migrate(engine)

        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT id, new_devices, retired_at FROM gateways ORDER BY id"
            ).all()
            unknown = connection.exec_driver_sql("SELECT COUNT(*) FROM unknown_gateways")
            assert unknown.scalar() == 0
        assert [tuple(r) for r in rows] == [
            ("gw-old", "own-facility", None),
            ("gw-site", "unassigned", None),
        ]
    finally:
        engine.dispose()


def test_0010_on_an_empty_database_makes_no_community(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT COUNT(*) FROM communities").scalar() == 0
    finally:
        engine.dispose()


def test_0013_closes_what_was_resolved_and_keeps_one_live_ticket_per_fault(url: str) -> None:
    """A resolved ticket was final before the repair loop: it becomes closed (when it was
    resolved); open and acknowledged tickets stay as they were, and the database still
    refuses a second live ticket for the same fault."""
    engine = make_engine(url)
    try:
        migrate(engine, "0012")
        at = "'2025-11-27 00:00:00+00'"
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO gateways (id, online, counters, first_seen_at, name, new_devices) "
                f"VALUES ('gw', true, '{{}}', {at}, '', 'unassigned')"
            )
            connection.exec_driver_sql(
                "INSERT INTO facilities (id, gateway_id, code, name, category, health, "
                f"health_since) VALUES (1, 'gw', 'lift', 'Lift', 'lift', 'ok', {at})"
            )
            connection.exec_driver_sql(
                "INSERT INTO devices (id, gateway_id, device_id, facility_id, device_type, "
                "profile, profile_version, health, faults, metrics, rule_state) VALUES "
                "(1, 'gw', 'lift-1', 1, 'lift', 'p', '1', 'ok', '[]', '{}', '{}')"
            )
            for ticket_id, state in ((1, "resolved"), (2, "resolved"), (3, "acknowledged")):
                resolved = "'2025-11-28 00:00:00+00'" if state == "resolved" else "NULL"
                connection.exec_driver_sql(
                    "INSERT INTO tickets (id, facility_id, device_pk, fault, title, severity, "
                    "priority, skill, sla, state, occurrences, opened_at, last_seen_at, "
                    f"resolved_at) VALUES ({ticket_id}, 1, 1, 'door', 'Door', 'major', "
                    f"'normal', 'lift', 'standard', '{state}', 1, {at}, {at}, {resolved})"
                )

        migrate(engine)

        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT id, state, closed_at IS NOT NULL FROM tickets ORDER BY id"
            ).all()
        assert [tuple(r) for r in rows] == [
            (1, "closed", True),
            (2, "closed", True),
            (3, "acknowledged", False),
        ]
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO tickets (facility_id, device_pk, fault, title, severity, priority, "
                "skill, sla, state, occurrences, opened_at, last_seen_at) VALUES (1, 1, 'door', "
                f"'Door', 'major', 'normal', 'lift', 'standard', 'verifying', 1, {at}, {at})"
            )
    finally:
        engine.dispose()
