"""Alembic migrations: they build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from cloud.db.engine import alembic_config, make_engine, migrate
from cloud.db.models import Base


def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'migrations.db'}"


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: object) -> str | None:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return MigrationContext.configure(connection).get_current_revision()


def test_migrate_creates_every_table_and_is_idempotent(tmp_path: Path) -> None:
    engine = make_engine(url(tmp_path))
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


def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    engine = make_engine(url(tmp_path))
    try:
        migrate(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_partial_unique_index_survives_migration(tmp_path: Path) -> None:
    engine = make_engine(url(tmp_path))
    try:
        migrate(engine)
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("tickets")}
        assert indexes["uq_tickets_one_unresolved"]["unique"]
        assert indexes["uq_tickets_one_unresolved"]["column_names"] == ["facility_id", "fault"]
        with engine.connect() as connection:
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'uq_tickets_one_unresolved'"
            ).scalar_one()
        assert "WHERE state != 'resolved'" in sql
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    engine = make_engine(url(tmp_path))
    try:
        migrate(engine)
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}

        migrate(engine)

        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
