"""Linli's Grafana dashboards: the provisioning JSON in the repository is what
``deploy/grafana/dashboards.py`` makes, and every panel's query and every variable's query —
its Grafana macros expanded as Grafana would — returns rows from a real PostgreSQL and
InfluxDB seeded with two communities, their tickets, readings, roll-ups, dead letters and
data gaps."""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from cloud.db.models import DataGap, DeadLetter, Device, Facility
from cloud.repair.lifecycle import Move
from cloud.services import Services
from device_profiles import Catalogue
from linli.influxdb import InfluxServer
from tests.cloud.communities import two_communities
from tests.cloud.conftest import _postgres_database, build_services
from tests.cloud.helpers import ADMIN, GATE, T0, batch, item, rolled_up

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy/grafana/dashboards"
NOW = datetime.now(UTC).replace(microsecond=0)


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "dashboards", ROOT / "deploy/grafana/dashboards.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_provisioned_dashboards_are_what_the_code_makes() -> None:
    made = generator().rendered()
    on_disk = {path.name: path.read_text() for path in DASHBOARDS.glob("*.json")}
    assert set(made) == set(on_disk), "run: make dashboards"
    for name, text_made in made.items():
        assert on_disk[name] == text_made, f"{name} is stale: run make dashboards"
    titles = {json.loads(t)["title"] for t in made.values()}
    assert titles == {
        "Linli — community overview",
        "Linli — facility telemetry",
        "Linli — tickets and SLA",
        "Linli — ingest and gateways",
    }


# -- every query against real data -----------------------------------------------------------


@pytest.fixture
def seeded(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    catalogue: Catalogue,
    influx_server: InfluxServer,
) -> Iterator[tuple[Services, dict[str, str]]]:
    """Two communities on PostgreSQL with telemetry in InfluxDB: oak's gate jammed at T0 and
    repaired (closed), late; elm's still open; an hour of oak's gate readings just now,
    rolled up, and jammed again now; a dead letter and a data gap. The dashboard
    variables' values for oak."""
    with _postgres_database(request) as url:
        services = build_services(
            tmp_path / "grafana",
            catalogue,
            database_url=url,
            ingest=False,
            telemetry_store="influxdb",
            influxdb_url=influx_server.url,
            influxdb_database=f"g_{uuid.uuid4().hex[:12]}",
        )
        try:
            ids = two_communities(services, catalogue)
            services.rounds.run(services.sessions, T0 + timedelta(days=5))  # targets missed
            with services.sessions.begin() as session:
                for move in (Move.ACKNOWLEDGE, Move.START, Move.RESOLVE, Move.CONFIRM):
                    services.tickets.move(
                        session, ids["oak_ticket"], move, ADMIN, at=T0 + timedelta(days=6)
                    )
            readings = [
                item(catalogue, GATE, "normal", ts=NOW - timedelta(minutes=m), device_id="g1")
                for m in range(60, 0, -5)
            ]
            services.writer.write(batch("gw-a", 10, readings))
            jammed = item(catalogue, GATE, "motor_jammed", ts=NOW, device_id="g1")
            services.writer.write(batch("gw-a", 11, [jammed]))  # and jammed again, now
            rolled_up(services.upkeep, NOW)
            with services.sessions.begin() as session:
                session.add(
                    DeadLetter(
                        at=NOW - timedelta(minutes=30),
                        topic="linli/v1/gw/gw-a/up/batch",
                        gateway_id="gw-a",
                        category="malformed",
                        reason="not JSON",
                        payload=b"{",
                    )
                )
                session.add(
                    DataGap(
                        id=uuid.uuid4().hex,
                        gateway_id="gw-a",
                        device_id="g1",
                        first_ts=NOW - timedelta(hours=2),
                        last_ts=NOW - timedelta(hours=1),
                        items=40,
                        reason="disk_budget",
                        epoch="0123456789abcdef",
                        seq=10,
                        received_at=NOW,
                    )
                )
            with services.sessions() as session:
                device = session.get_one(Device, ids["oak_device"])
                facility = session.get_one(Facility, device.facility_id)
                values = {
                    "community": str(ids["oak"]),
                    "facility": str(facility.id),
                    "device": str(device.id),
                    "metric": "motor_current",
                }
            yield services, values
        finally:
            services.close()


def _seconds(interval: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([smhd])", interval.strip()).groups()  # type: ignore[union-attr]
    return int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def expand_sql(sql: str, start: datetime, end: datetime, values: dict[str, str]) -> str:
    """Grafana's PostgreSQL macros and the dashboard's variables, as Grafana expands them."""
    between = f"BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'"
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", lambda m: f"{m[1]} {between}", sql)
    sql = re.sub(
        r"\$__timeGroupAlias\(([^,]+),\s*([^)]+)\)",
        lambda m: (
            f"to_timestamp(floor(extract(epoch FROM {m[1]}) / {_seconds(m[2])}) * "
            f'{_seconds(m[2])}) AS "time"'
        ),
        sql,
    )
    for name, value in values.items():
        sql = sql.replace(f"${name}", value)
    assert "$" not in sql, f"a macro left: {sql}"
    return sql


def expand_influxql(query: str, start: datetime, end: datetime, values: dict[str, str]) -> str:
    query = query.replace(
        "$timeFilter", f"time >= '{start.isoformat()}' AND time <= '{end.isoformat()}'"
    )
    query = query.replace("$__interval", "1m")
    for name, value in values.items():
        query = query.replace(f"${name}", value)
    assert "$" not in query, f"a macro left: {query}"
    return query


def influx_rows(services: Services, query: str) -> list[Any]:
    settings = services.settings
    answer = httpx.get(
        f"{settings.influxdb_url}/query",
        params={"db": settings.influxdb_database, "q": query},
        timeout=10,
        trust_env=False,
    )
    answer.raise_for_status()
    rows = []
    for result in answer.json()["results"]:
        assert "error" not in result, result["error"]
        for series in result.get("series", []):
            rows += [v for v in series.get("values", []) if any(x is not None for x in v[1:])]
    return rows


def sql_rows(services: Services, sql: str) -> list[Any]:
    """The rows with a value (an aggregate over nothing is one row of NULLs: no rows)."""
    with services.sessions() as session:
        return [row for row in session.execute(text(sql)) if any(v is not None for v in row)]


def queries(board: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """Each panel's and variable's query: (where, data source type, query)."""
    for variable in board.get("templating", {}).get("list", []):
        yield f"variable {variable['name']}", variable["datasource"]["type"], variable["query"]
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            query = target.get("rawSql") or target.get("query")
            yield f"panel {panel['title']!r} {target['refId']}", target["datasource"]["type"], query


def test_every_panel_and_variable_query_returns_rows(
    seeded: tuple[Services, dict[str, str]],
) -> None:
    services, values = seeded
    sql_range = (T0 - timedelta(days=1), NOW + timedelta(days=1))
    influx_range = (NOW - timedelta(days=1), NOW + timedelta(minutes=5))
    ran = 0
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for where, source, query in queries(board):
            if source == "influxdb":
                rows = influx_rows(services, expand_influxql(query, *influx_range, values))
            else:
                rows = sql_rows(services, expand_sql(query, *sql_range, values))
            assert rows, f"{path.name}: {where} returned no rows"
            ran += 1
    assert ran >= 25, f"only {ran} queries"


def test_a_variable_names_what_the_panels_read(seeded: tuple[Services, dict[str, str]]) -> None:
    """The metric variable lists the device's metrics from the roll-ups, and the community
    variable lists every community: Grafana sees them all."""
    services, values = seeded
    boards = {p.stem: json.loads(p.read_text()) for p in DASHBOARDS.glob("*.json")}
    variables = {v["name"]: v for v in boards["facility-telemetry"]["templating"]["list"]}
    metrics = influx_rows(services, expand_influxql(variables["metric"]["query"], NOW, NOW, values))
    assert ["metric", "motor_current"] in metrics
    communities = sql_rows(services, variables["community"]["query"])
    assert {row[1] for row in communities} >= {"Oak", "Elm"}
    with services.sessions() as session:
        assert session.scalar(select(Facility.id).where(Facility.id == int(values["facility"])))
