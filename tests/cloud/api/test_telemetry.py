"""/api/v1/devices/{id}/telemetry: series for charts from whichever store is configured,
raw for a short span and roll-ups for longer ones; on SQLite, PostgreSQL and InfluxDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud.access.roles import Role
from cloud.app import create_app
from cloud.db.models import Device
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.conftest import log_in, make_account
from tests.cloud.helpers import LIGHT, batch, item

HOUR = timedelta(hours=1)


@pytest.fixture
def base() -> datetime:
    """A whole hour three hours ago: its readings are raw-kept, their hours have ended."""
    now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0) - 3 * HOUR


@pytest.fixture
def lamp(any_store_services: Services, catalogue: Catalogue, base: datetime) -> Iterator[int]:
    """A lamp on from minute 10 to minute 40 of ``base``'s hour, off since; rolled up."""
    services = any_store_services
    readings = [(10, "normal_on"), (25, "normal_on"), (40, "normal_off"), (100, "normal_off")]
    services.writer.write(
        batch(
            "gw-1",
            1,
            [
                item(catalogue, LIGHT, name, ts=base + timedelta(minutes=m), device_id="light-01")
                for m, name in readings
            ],
        )
    )
    services.upkeep.run(datetime.now(UTC))
    with services.sessions() as session:
        device = session.query(Device).one()
        yield device.id


@pytest.fixture
def api(any_store_services: Services) -> Iterator[TestClient]:
    make_account(any_store_services, "admin", Role.OPERATOR_ADMIN)
    with TestClient(create_app(any_store_services)) as test_client:
        log_in(test_client, "admin")
        yield test_client


def get(api: TestClient, pk: int, **params: Any) -> Any:
    query = {
        k.rstrip("_"): v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()
    }
    response = api.get(f"/api/v1/devices/{pk}/telemetry", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_short_span_gives_the_raw_readings(
    api: TestClient, lamp: int, base: datetime, any_store_services: Services
) -> None:
    body = get(api, lamp, metric="current", from_=base, to=base + HOUR)
    assert (body["resolution"], body["step"], body["kind"], body["unit"]) == (
        "raw",
        None,
        "number",
        "A",
    )
    assert body["store"] == any_store_services.telemetry.name
    assert [(r["t"][11:16], r["value"]) for r in body["readings"]] == [
        (f"{base.hour:02}:10", 0.42),
        (f"{base.hour:02}:25", 0.42),
        (f"{base.hour:02}:40", 0.0),
    ]
    assert body["from"].startswith(base.isoformat()[:19])


def test_hours_of_a_state_give_the_time_it_held(api: TestClient, lamp: int, base: datetime) -> None:
    body = get(api, lamp, metric="on", from_=base, to=base + 3 * HOUR, step=3600)
    assert (body["resolution"], body["step"], body["kind"]) == ("1h", 3600, "state")
    first, second, third = body["buckets"]
    # known from minute 10: on for 30 of the 50 minutes, though 2 of its 3 readings say on
    assert first["count"] == 3
    assert first["share"] == pytest.approx(30 / 50)
    assert first["covered_s"] == pytest.approx(50 * 60)
    assert (second["share"], second["count"]) == (0.0, 1)
    assert (third["share"], third["count"]) == (0.0, 0)  # no reading: still off
    assert third["last"] is False


def test_minutes_and_steps_between(api: TestClient, lamp: int, base: datetime) -> None:
    body = get(api, lamp, metric="current", from_=base, to=base + 2 * HOUR, step=900)
    assert (body["resolution"], body["step"]) == ("1m", 900)
    by_start = {b["t"][11:16]: b for b in body["buckets"]}
    quarter = by_start[f"{base.hour:02}:00"]
    assert (quarter["count"], quarter["min"], quarter["max"]) == (1, 0.42, 0.42)
    assert by_start[f"{base.hour:02}:30"]["mean"] == 0.0
    assert by_start[f"{base.hour:02}:15"]["count"] == 1


def test_the_span_picks_the_resolution(api: TestClient, lamp: int) -> None:
    now = datetime.now(UTC)
    day = get(api, lamp, metric="current", from_=now - timedelta(days=1), to=now)
    assert (day["resolution"], day["step"]) == ("1m", 60)
    month = get(api, lamp, metric="current", from_=now - timedelta(days=30), to=now)
    assert (month["resolution"], month["step"]) == ("1m", 1800)
    year = get(api, lamp, metric="current", from_=now - timedelta(days=365), to=now)
    assert (year["resolution"], year["step"]) == ("1h", 43200)
    # minutes are kept 90 days: an older day comes from hours
    old = get(
        api, lamp, metric="current", from_=now - timedelta(days=120), to=now - timedelta(days=119)
    )
    assert old["resolution"] == "1h"


def test_bad_requests_say_why(api: TestClient, lamp: int, base: datetime) -> None:
    missing = api.get("/api/v1/devices/9999/telemetry", params={"metric": "on"})
    assert missing.status_code == 404
    unknown = api.get(f"/api/v1/devices/{lamp}/telemetry", params={"metric": "colour"})
    assert unknown.status_code == 404
    assert "current, on, voltage" in unknown.json()["detail"]
    backwards = api.get(
        f"/api/v1/devices/{lamp}/telemetry",
        params={"metric": "on", "from": base.isoformat(), "to": (base - HOUR).isoformat()},
    )
    assert backwards.status_code == 200
    assert (backwards.json()["readings"], backwards.json()["buckets"]) == ([], [])
    ancient = api.get(
        f"/api/v1/devices/{lamp}/telemetry",
        params={"metric": "on", "from": "0001-01-01T00:00:00+05:00", "to": "9999-12-31T23:59:59"},
    )
    assert ancient.status_code == 200
    assert ancient.json()["from"].startswith("1970-01-01")
    zero = api.get(f"/api/v1/devices/{lamp}/telemetry", params={"metric": "on", "step": 0})
    assert zero.status_code == 422
