"""The throwaway PostgreSQL the tests and benchmarks start: it runs, holds databases, and goes."""

from __future__ import annotations

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
