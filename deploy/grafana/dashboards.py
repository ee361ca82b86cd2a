"""Linli's Grafana dashboards as code (grafana-foundation-sdk), written out as provisioning
JSON in ``deploy/grafana/dashboards/``: ``make dashboards`` writes them, and a test fails
while the files are not what this module makes (``tests/deploy/test_grafana.py``, which also
runs every panel's query against a seeded PostgreSQL and InfluxDB).

- **Community overview**: the facilities' health, open tickets, tickets opened, what is faulty.
- **Facility telemetry**: a device's metric per minute (InfluxDB roll-ups), its readings, its
  state and tickets.
- **Tickets and SLA**: opened and closed, open by state, targets missed, compliance, time open.
- **Ingest and gateways**: batches and readings stored, dead letters, data gaps, gateways.

Grafana is the operator's tool: its data sources read the whole database, so every dashboard
sees every community (the community is a variable, not a permission).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, dashboard, stat, table, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    GridPos,
    VariableRefresh,
    VariableSort,
)

POSTGRES = DataSourceRef(type_val="grafana-postgresql-datasource", uid="linli-postgres")
INFLUX = DataSourceRef(type_val="influxdb", uid="linli-influxdb")
"""The data sources ``deploy/grafana/provisioning/datasources/linli.yaml`` provisions."""
OUT = Path(__file__).parent / "dashboards"
LIVE = "state NOT IN ('closed', 'cancelled')"
"""A ticket still being worked on (cloud/repair/tickets.py: LIVE)."""


# -- queries: the two data sources' targets --------------------------------------------------


class SqlQuery(cogvariants.Dataquery):
    """A PostgreSQL target: raw SQL with Grafana's macros (``$__timeFilter``…)."""

    def __init__(self, ref_id: str, sql: str, fmt: str) -> None:
        self.ref_id, self.sql, self.fmt = ref_id, sql, fmt

    def to_json(self) -> dict[str, Any]:
        return {
            "refId": self.ref_id,
            "datasource": POSTGRES.to_json(),
            "editorMode": "code",
            "format": self.fmt,
            "rawQuery": True,
            "rawSql": self.sql,
        }


class InfluxQuery(cogvariants.Dataquery):
    """An InfluxDB 1.x target: raw InfluxQL with Grafana's ``$timeFilter``, ``$__interval``."""

    def __init__(self, ref_id: str, query: str) -> None:
        self.ref_id, self.query = ref_id, query

    def to_json(self) -> dict[str, Any]:
        return {
            "refId": self.ref_id,
            "datasource": INFLUX.to_json(),
            "query": self.query,
            "rawQuery": True,
            "resultFormat": "time_series",
        }


class Target(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: cogvariants.Dataquery) -> None:
        self._query = query

    def build(self) -> cogvariants.Dataquery:
        return self._query


def sql(text: str, ref_id: str = "A", *, series: bool = False) -> Target:
    return Target(SqlQuery(ref_id, " ".join(text.split()), "time_series" if series else "table"))


def influx(text: str, ref_id: str = "A") -> Target:
    return Target(InfluxQuery(ref_id, " ".join(text.split())))


# -- pieces ----------------------------------------------------------------------------------


def community_variable() -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable("community")
        .label("Community")
        .datasource(POSTGRES)
        .query(
            "SELECT id AS __value, name AS __text FROM communities "
            "WHERE archived_at IS NULL ORDER BY name"
        )
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def at(x: int, y: int, w: int, h: int) -> GridPos:
    return GridPos(h=h, w=w, x=x, y=y)


def figure(title: str, query: Target, where: GridPos, unit: str = "none") -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .datasource(POSTGRES)
        .with_target(query)
        .unit(unit)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .grid_pos(where)
    )


def over_time(
    title: str, queries: Sequence[Target], where: GridPos, source: DataSourceRef, unit: str = "none"
) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).datasource(source).unit(unit).grid_pos(where)
    for query in queries:
        panel = panel.with_target(query)
    return panel


def rows_of(title: str, query: Target, where: GridPos) -> table.Panel:
    return table.Panel().title(title).datasource(POSTGRES).with_target(query).grid_pos(where)


def bars(title: str, query: Target, where: GridPos) -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title(title)
        .datasource(POSTGRES)
        .with_target(query)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(True))
        .grid_pos(where)
    )


def board(uid: str, title: str, description: str) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["linli"])
        .editable()
        .time("now-7d", "now")
        .refresh("1m")
        .timezone("browser")
    )


# -- the dashboards ----------------------------------------------------------------------


def community_overview() -> dashboard.Dashboard:
    in_it = "community_id = $community"
    facilities = f"FROM facilities WHERE {in_it} AND archived_at IS NULL"
    return (
        board("linli-overview", "Linli — community overview", "A community's health at a glance")
        .with_variable(community_variable())
        .with_panel(
            figure(
                "Faulty facilities",
                sql(f"SELECT count(*) AS faulty {facilities} AND health = 'faulty'"),
                at(0, 0, 6, 4),
            )
        )
        .with_panel(
            figure(
                "Open tickets",
                sql(f"SELECT count(*) AS open FROM tickets WHERE {in_it} AND {LIVE}"),
                at(6, 0, 6, 4),
            )
        )
        .with_panel(
            bars(
                "Facilities by health",
                sql(f"SELECT health AS metric, count(*) AS value {facilities} GROUP BY health"),
                at(12, 0, 12, 8),
            )
        )
        .with_panel(
            over_time(
                "Tickets opened",
                [
                    sql(
                        f"""SELECT $__timeGroupAlias(opened_at, 1h), count(*) AS opened
                        FROM tickets WHERE {in_it} AND $__timeFilter(opened_at)
                        GROUP BY 1 ORDER BY 1""",
                        series=True,
                    )
                ],
                at(0, 8, 24, 8),
                POSTGRES,
            )
        )
        .with_panel(
            rows_of(
                "What is not working",
                sql(
                    f"""SELECT name, category, health, health_since {facilities}
                    AND health <> 'ok' ORDER BY health_since"""
                ),
                at(0, 16, 24, 8),
            )
        )
    )


def facility_telemetry() -> dashboard.Dashboard:
    facility = (
        dashboard.QueryVariable("facility")
        .label("Facility")
        .datasource(POSTGRES)
        .query(
            "SELECT id AS __value, name AS __text FROM facilities "
            "WHERE community_id = $community AND archived_at IS NULL ORDER BY name"
        )
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
    )
    device = (
        dashboard.QueryVariable("device")
        .label("Device")
        .datasource(POSTGRES)
        .query(
            "SELECT id AS __value, device_id AS __text FROM devices "
            "WHERE facility_id = $facility ORDER BY device_id"
        )
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
    )
    metric = (
        dashboard.QueryVariable("metric")
        .label("Metric")
        .datasource(INFLUX)
        .query('SHOW TAG VALUES FROM "rollup_60" WITH KEY = "metric" WHERE "device" = \'$device\'')
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
    )
    of_device = "\"device\" = '$device'"
    return (
        board(
            "linli-telemetry",
            "Linli — facility telemetry",
            "A device's metrics, per minute, from the telemetry roll-ups",
        )
        .with_variable(community_variable())
        .with_variable(facility)
        .with_variable(device)
        .with_variable(metric)
        .with_panel(
            over_time(
                "$metric: mean, min and max",
                [
                    influx(
                        f"""SELECT mean("mean") AS "mean", min("min") AS "min",
                        max("max") AS "max" FROM "rollup_60" WHERE {of_device}
                        AND "metric" = '$metric' AND $timeFilter
                        GROUP BY time($__interval) fill(null)"""
                    )
                ],
                at(0, 0, 24, 10),
                INFLUX,
            )
        )
        .with_panel(
            over_time(
                "Readings",
                [
                    influx(
                        f"""SELECT sum("count") AS "readings" FROM "rollup_60"
                        WHERE {of_device} AND "metric" = '$metric' AND $timeFilter
                        GROUP BY time($__interval) fill(0)"""
                    )
                ],
                at(0, 10, 12, 8),
                INFLUX,
            )
        )
        .with_panel(
            rows_of(
                "The facility's devices",
                sql(
                    """SELECT device_id, profile, health, last_ts FROM devices
                    WHERE facility_id = $facility ORDER BY device_id"""
                ),
                at(12, 10, 12, 8),
            )
        )
        .with_panel(
            rows_of(
                "The facility's tickets",
                sql(
                    """SELECT id, title, state, priority, opened_at FROM tickets
                    WHERE facility_id = $facility ORDER BY opened_at DESC LIMIT 20"""
                ),
                at(0, 18, 24, 8),
            )
        )
    )


def tickets_and_sla() -> dashboard.Dashboard:
    in_it = "community_id = $community"
    closed = f"{in_it} AND closed_at IS NOT NULL AND $__timeFilter(closed_at)"
    return (
        board("linli-tickets", "Linli — tickets and SLA", "Repairs: opened, closed, on time")
        .with_variable(community_variable())
        .with_panel(
            over_time(
                "Tickets opened and closed",
                [
                    sql(
                        f"""SELECT $__timeGroupAlias(opened_at, 1d), count(*) AS opened
                        FROM tickets WHERE {in_it} AND $__timeFilter(opened_at)
                        GROUP BY 1 ORDER BY 1""",
                        "A",
                        series=True,
                    ),
                    sql(
                        f"""SELECT $__timeGroupAlias(closed_at, 1d), count(*) AS closed
                        FROM tickets WHERE {closed} GROUP BY 1 ORDER BY 1""",
                        "B",
                        series=True,
                    ),
                ],
                at(0, 0, 16, 8),
                POSTGRES,
            )
        )
        .with_panel(
            bars(
                "Open tickets by state",
                sql(
                    f"""SELECT state AS metric, count(*) AS value FROM tickets
                    WHERE {in_it} AND {LIVE} GROUP BY state"""
                ),
                at(16, 0, 8, 8),
            )
        )
        .with_panel(
            figure(
                "Targets missed in the period",
                sql(
                    f"""SELECT count(*) AS missed FROM tickets WHERE {in_it} AND
                    ($__timeFilter(respond_breached_at) OR $__timeFilter(resolve_breached_at))"""
                ),
                at(0, 8, 8, 4),
            )
        )
        .with_panel(
            figure(
                "Closed within their targets",
                sql(
                    f"""SELECT avg(CASE WHEN respond_breached_at IS NULL
                    AND resolve_breached_at IS NULL THEN 1.0 ELSE 0.0 END) AS compliance
                    FROM tickets WHERE {closed}"""
                ),
                at(8, 8, 8, 4),
                unit="percentunit",
            )
        )
        .with_panel(
            figure(
                "Mean time from opened to closed",
                sql(
                    f"""SELECT avg(extract(epoch FROM closed_at - opened_at)) AS seconds
                    FROM tickets WHERE {closed}"""
                ),
                at(16, 8, 8, 4),
                unit="s",
            )
        )
    )


def ingest_and_gateways() -> dashboard.Dashboard:
    return (
        board(
            "linli-ingest",
            "Linli — ingest and gateways",
            "What the gateways send and the cloud stores, across every community",
        )
        .with_panel(
            over_time(
                "Batches and items stored",
                [
                    sql(
                        """SELECT $__timeGroupAlias(ingested_at, 1m), count(*) AS batches,
                        sum(items) AS items FROM ingested_batches
                        WHERE $__timeFilter(ingested_at) GROUP BY 1 ORDER BY 1""",
                        series=True,
                    )
                ],
                at(0, 0, 12, 8),
                POSTGRES,
            )
        )
        .with_panel(
            over_time(
                "Readings stored (all devices)",
                [
                    influx(
                        """SELECT sum("count") AS "readings" FROM "rollup_60"
                        WHERE $timeFilter GROUP BY time($__interval) fill(0)"""
                    )
                ],
                at(12, 0, 12, 8),
                INFLUX,
            )
        )
        .with_panel(
            over_time(
                "Dead letters, by category",
                [
                    sql(
                        """SELECT $__timeGroupAlias(at, 1h), category AS metric,
                        count(*) AS dead_letters FROM dead_letters WHERE $__timeFilter(at)
                        GROUP BY 1, 2 ORDER BY 1""",
                        series=True,
                    )
                ],
                at(0, 8, 12, 8),
                POSTGRES,
            )
        )
        .with_panel(
            over_time(
                "Readings dropped at the edge (data gaps)",
                [
                    sql(
                        """SELECT $__timeGroupAlias(first_ts, 1h), sum(items) AS dropped
                        FROM data_gaps WHERE $__timeFilter(first_ts) GROUP BY 1 ORDER BY 1""",
                        series=True,
                    )
                ],
                at(12, 8, 12, 8),
                POSTGRES,
            )
        )
        .with_panel(
            rows_of(
                "Gateways",
                sql(
                    """SELECT g.id, g.name, c.name AS community, g.online, g.heard_at,
                    g.last_seq FROM gateways g JOIN communities c ON c.id = g.community_id
                    WHERE g.retired_at IS NULL ORDER BY g.online, g.id"""
                ),
                at(0, 16, 24, 8),
            )
        )
    )


DASHBOARDS = {
    "community-overview": community_overview,
    "facility-telemetry": facility_telemetry,
    "tickets-and-sla": tickets_and_sla,
    "ingest-and-gateways": ingest_and_gateways,
}


def rendered() -> dict[str, str]:
    """Each dashboard's provisioning JSON, by file name."""
    return {
        f"{name}.json": json.dumps(make().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
        for name, make in DASHBOARDS.items()
    }


def main(argv: Sequence[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else OUT
    out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (out / name).write_text(text, encoding="utf-8")
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
