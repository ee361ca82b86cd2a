"""Silent devices get their silence fault once, and a sweep reads only the devices that fell
silent since the last one: at a million devices, through the index on ``last_seen_at``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from cloud.db.models import Device, Ticket
from cloud.ingest.writer import BatchWriter
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import GatewayStatus
from linli.postgres import PostgresCluster
from tests.cloud.conftest import build_services
from tests.cloud.helpers import GATE, batch, item

SPAN = timedelta(seconds=180)
"""The gate's silence rule: three missed heartbeats of a minute."""
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def writer_at(services: Services, catalogue: Catalogue, at: datetime) -> BatchWriter:
    """A writer whose clock says ``at``."""
    return BatchWriter(
        services.sessions, catalogue, services.health, services.metrics, clock=lambda: at
    )


def hear(services: Services, catalogue: Catalogue, seq: int, at: datetime, *devices: str) -> None:
    """A reading of each device, received ``at``."""
    readings = [item(catalogue, GATE, "normal", ts=at, device_id=d) for d in devices]
    writer_at(services, catalogue, at).write(batch("gw-1", seq, readings))


def gateway_heard(services: Services, catalogue: Catalogue, at: datetime) -> None:
    """gw-1's status at ``at``: the gateway is alive (it says so every half minute)."""
    writer_at(services, catalogue, at).record_status(GatewayStatus(gateway_id="gw-1", online=True))


def faults(services: Services, device_id: str) -> list[str]:
    with services.sessions() as session:
        device = session.scalars(select(Device).where(Device.device_id == device_id)).one()
        return list(device.faults)


def test_a_silent_device_goes_offline_once_and_is_not_read_again(
    services: Services, catalogue: Catalogue
) -> None:
    heard = BASE
    hear(services, catalogue, 1, heard, "gate-01", "gate-02")
    silence = services.health.silence

    services.health.sweep(services.sessions, heard + SPAN - timedelta(seconds=5))
    assert faults(services, "gate-01") == []
    hear(services, catalogue, 2, heard + timedelta(seconds=60), "gate-02")  # it keeps talking
    gateway_heard(services, catalogue, heard + SPAN + timedelta(seconds=2))
    assert services.health.sweep(services.sessions, heard + SPAN + timedelta(seconds=5)) == 1
    assert faults(services, "gate-01") == ["offline"]
    assert faults(services, "gate-02") == []

    with services.sessions() as session:
        later = silence.judge(session, heard + SPAN + timedelta(seconds=10))
    assert later.looked_at == 0  # gate-01 fell silent before the last sweep: not read again


def test_a_device_heard_again_and_silent_again_is_found_again(
    services: Services, catalogue: Catalogue
) -> None:
    first = BASE
    hear(services, catalogue, 1, first, "gate-01")
    gateway_heard(services, catalogue, first + SPAN)
    services.health.sweep(services.sessions, first + SPAN + timedelta(seconds=1))
    assert faults(services, "gate-01") == ["offline"]

    again = first + timedelta(hours=1)
    hear(services, catalogue, 2, again, "gate-01")
    assert faults(services, "gate-01") == []
    services.health.sweep(services.sessions, again + timedelta(seconds=30))
    assert faults(services, "gate-01") == []
    gateway_heard(services, catalogue, again + SPAN)
    services.health.sweep(services.sessions, again + SPAN + timedelta(seconds=1))
    assert faults(services, "gate-01") == ["offline"]


def test_devices_behind_a_gateway_that_was_down_count_silence_from_its_return(
    services: Services, catalogue: Catalogue
) -> None:
    heard = BASE
    hear(services, catalogue, 1, heard, "gate-01")
    down = writer_at(services, catalogue, heard + timedelta(seconds=10))
    down.record_status(GatewayStatus(gateway_id="gw-1", online=False))
    services.health.sweep(services.sessions, heard + SPAN + timedelta(seconds=1))
    assert faults(services, "gate-01") == []  # the gateway is what failed

    back = heard + timedelta(hours=1)
    up = writer_at(services, catalogue, back)
    up.record_status(GatewayStatus(gateway_id="gw-1", online=True))
    services.health.sweep(services.sessions, back + SPAN - timedelta(seconds=5))
    assert faults(services, "gate-01") == []  # not yet: silence counts from its return
    gateway_heard(services, catalogue, back + SPAN)
    services.health.sweep(services.sessions, back + SPAN + timedelta(seconds=5))
    assert faults(services, "gate-01") == ["offline"]


def test_devices_of_a_gateway_not_heard_since_they_fell_silent_are_not_blamed(
    services: Services, catalogue: Catalogue
) -> None:
    """A cut cable: the gateway and its devices fall silent together, and the gateway's last
    will may come only after the devices' spans have passed. Until the gateway is heard
    again, its devices are not offline: it is what failed."""
    hear(services, catalogue, 1, BASE, "gate-01", "gate-02")
    assert services.health.sweep(services.sessions, BASE + SPAN + timedelta(seconds=1)) == 0
    assert services.health.sweep(services.sessions, BASE + 2 * SPAN) == 0  # still nothing
    assert faults(services, "gate-01") == []

    # the gateway speaks again, gate-02 with it; gate-01 stays silent: it is gate-01's fault
    hear(services, catalogue, 2, BASE + 2 * SPAN + timedelta(seconds=5), "gate-02")
    assert services.health.sweep(services.sessions, BASE + 2 * SPAN + timedelta(seconds=6)) == 1
    assert faults(services, "gate-01") == ["offline"]
    assert faults(services, "gate-02") == []


# --------------------------------------------------------------------- a million devices

MILLION = 1_000_000
FACILITIES = 1_000
FELL_SILENT = 25


def _fill(connection: sa.Connection, engine_name: str) -> None:
    """A gateway, its facilities, and a million gates all heard from at BASE."""
    connection.execute(
        sa.text(
            "INSERT INTO gateways (id, online, counters, first_seen_at, online_since, status_at)"
            " VALUES ('gw', true, '{}', :at, :since, :status)"
        ),
        # its last status a day ahead: the gateway is heard after any device fell silent
        {
            "at": BASE - timedelta(days=1),
            "since": BASE - timedelta(days=1),
            "status": BASE + timedelta(days=1),
        },
    )
    connection.execute(
        sa.text(
            "INSERT INTO facilities (gateway_id, code, name, category, health, health_since)"
            " VALUES ('gw', :code, :code, 'access', 'ok', :at)"
        ),
        [{"code": f"f-{n}", "at": BASE} for n in range(FACILITIES)],
    )
    first = connection.execute(sa.text("SELECT min(id) FROM facilities")).scalar_one()
    if engine_name == "sqlite":
        numbers = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
        source = "FROM n"
    else:
        numbers = ""
        source = "FROM generate_series(0, :last) AS n(i)"
    connection.execute(
        sa.text(
            numbers + "INSERT INTO devices (gateway_id, device_id, facility_id, device_type,"
            " profile, profile_version, health, faults, rule_state, metrics, version,"
            " last_seen_at) SELECT 'gw', 'gate-' || i, :first + i % :facilities,"
            " 'access_gate', 'acme_access_gate', '1.1.0', 'ok', '[]', '{}', '{}', 1, :seen "
            + source
        ),
        {"last": MILLION - 1, "first": first, "facilities": FACILITIES, "seen": BASE},
    )
    connection.execute(sa.text("ANALYZE"))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def million(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue
) -> Iterator[Services]:
    """Services on a database of a million devices, built once per engine."""
    directory = tmp_path_factory.mktemp("million")
    url = None
    if request.param == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        url = cluster.create_database(f"million_{uuid.uuid4().hex[:8]}")
    services = build_services(directory, catalogue, database_url=url, ingest=False)
    with services.engine.begin() as connection:
        _fill(connection, services.engine.dialect.name)
    yield services
    services.close()


def _plan(services: Services, query: sa.Select[Any]) -> str:
    """The database's plan for ``query``, as text."""
    with services.engine.connect() as connection:
        compiled = query.compile(connection, compile_kwargs={"literal_binds": True})
        if connection.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
            return "\n".join(str(row[-1]) for row in rows)
        rows = connection.exec_driver_sql(f"EXPLAIN {compiled}").all()
        return "\n".join(str(row[0]) for row in rows)


def test_at_a_million_devices_a_sweep_reads_the_index_and_only_what_fell_silent(
    million: Services,
) -> None:
    services = million
    silence = services.health.silence
    start = BASE + timedelta(seconds=1)
    assert services.health.sweep(services.sessions, start) == 0  # nobody is silent yet

    # 25 gates fell quiet between this sweep and the next
    fell = [f"gate-{n}" for n in range(0, MILLION, MILLION // FELL_SILENT)]
    with services.engine.begin() as connection:
        connection.execute(
            sa.update(Device)
            .where(Device.gateway_id == "gw", Device.device_id.in_(fell))
            .values(last_seen_at=start + timedelta(seconds=0.5) - SPAN)
        )
    now = start + timedelta(seconds=1)

    plans = [_plan(services, query) for query in silence.queries(now)]
    for plan in plans:
        assert "ix_devices_last_seen" in plan, plan
        assert "SCAN devices" not in plan and "Seq Scan on devices" not in plan, plan
    with services.sessions() as session:
        looked = silence.judge(session, now)  # what the next sweep reads, without it
    assert (looked.looked_at, looked.went_silent) == (FELL_SILENT, FELL_SILENT)

    assert services.health.sweep(services.sessions, now) == FELL_SILENT
    with services.sessions() as session:
        offline = session.scalars(
            select(Device.device_id).where(Device.health != "ok").order_by(Device.id)
        ).all()
    assert sorted(offline) == sorted(fell)


def test_a_device_the_sweep_changed_is_judged_from_its_new_state_by_a_warm_writer(
    services: Services, catalogue: Catalogue
) -> None:
    clock = [BASE]
    writer = BatchWriter(
        services.sessions, catalogue, services.health, services.metrics, clock=lambda: clock[0]
    )
    reading = item(catalogue, GATE, "normal", ts=BASE, device_id="gate-01")
    writer.write(batch("gw-1", 1, [reading]))  # the writer now holds gate-01 in memory
    gateway_heard(services, catalogue, BASE + SPAN)
    assert services.health.sweep(services.sessions, BASE + SPAN + timedelta(seconds=1)) == 1

    clock[0] = BASE + SPAN + timedelta(seconds=2)  # heard again, by the same writer
    again = item(catalogue, GATE, "normal", ts=clock[0], device_id="gate-01")
    writer.write(batch("gw-1", 2, [again]))

    assert faults(services, "gate-01") == []
    with services.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.fault == "offline")).one()
    assert ticket.fault_cleared_at == clock[0]  # judged from the state the sweep left
