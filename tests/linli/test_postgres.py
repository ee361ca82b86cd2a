"""The throwaway PostgreSQL the tests and benchmarks start: it runs, holds databases, and goes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from linli.postgres import PostgresCluster


def test_a_database_is_made_used_and_thrown_away_with_the_cluster(
    postgres_cluster: PostgresCluster,
) -> None:
    url = postgres_cluster.create_database("linli_probe")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE t (n int)"))
            connection.execute(sa.text("INSERT INTO t VALUES (1), (2)"))
            total = connection.execute(sa.text("SELECT sum(n) FROM t")).scalar_one()
            listening = connection.execute(sa.text("SHOW listen_addresses")).scalar_one()
    finally:
        engine.dispose()
    assert total == 3
    assert listening == "127.0.0.1"
    assert postgres_cluster.port != 5432


def test_a_database_copied_from_a_template_holds_its_rows_and_is_dropped_while_in_use(
    postgres_cluster: PostgresCluster,
) -> None:
    template = sa.create_engine(postgres_cluster.create_database("linli_made_once"))
    with template.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (n int)"))
        connection.execute(sa.text("INSERT INTO t VALUES (7)"))
    template.dispose()  # nobody may be connected to a template

    copy = sa.create_engine(
        postgres_cluster.create_database("linli_copy", template="linli_made_once")
    )
    connection = copy.connect()
    assert connection.execute(sa.text("SELECT n FROM t")).scalar_one() == 7
    postgres_cluster.drop_database("linli_copy")  # though still in use
    with pytest.raises(sa.exc.OperationalError):
        connection.execute(sa.text("SELECT 1"))
    connection.invalidate()
    copy.dispose()

    with sa.create_engine(postgres_cluster.url()).connect() as connection:
        names = connection.execute(sa.text("SELECT datname FROM pg_database")).scalars().all()
    assert "linli_copy" not in names and "linli_made_once" in names


def test_database_names_must_be_plain(postgres_cluster: PostgresCluster) -> None:
    with pytest.raises(ValueError, match="plain"):
        postgres_cluster.create_database('x"; DROP DATABASE postgres; --')
