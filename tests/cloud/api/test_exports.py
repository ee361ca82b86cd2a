"""/api/v1/exports/*: tickets, facilities, figures, utilisation and telemetry as CSV and JSON
— the CSV read back is the JSON — filtered by period and zone, held to the caller's
community and a maintainer's zones; names with commas, quotes and Chinese quoted; the
telemetry export bounded. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.access.roles import Principal, Role
from cloud.app import create_app
from cloud.db.models import Account, Device, Gateway, Ticket
from cloud.services import Services
from device_profiles import Catalogue
from tests.cloud.communities import client_as, maintainer_li, two_communities
from tests.cloud.conftest import make_account
from tests.cloud.helpers import GATE, LIGHT, batch, item

EXPORTS = "/api/v1/exports"
SINCE = "2025-11-26T00:00:00Z"
"""Before the gates jammed (2025-11-27 00:00 UTC)."""
ODD_NAME = 'Gate "A", 东门'
HOUR = timedelta(hours=1)


def _until() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


def _cell(value: Any) -> str:
    """A JSON value as the CSV export writes it."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def export(client: TestClient, what: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of an export, fetched as CSV and as JSON: the CSV read back is the JSON, the
    headers those of a download."""
    as_json = client.get(f"{EXPORTS}/{what}.json", params=params)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"] == "application/json"
    rows: list[dict[str, Any]] = as_json.json()
    assert isinstance(rows, list)
    as_csv = client.get(f"{EXPORTS}/{what}.csv", params=params)
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    day = datetime.now(UTC).date().isoformat()
    assert as_csv.headers["content-disposition"] == (
        f'attachment; filename="linli-{what}-{day}.csv"'
    )
    assert as_json.headers["content-disposition"].endswith(f'-{day}.json"')
    text = as_csv.content.decode("utf-8")
    assert text.endswith("\r\n")
    header, *read = list(csv.reader(io.StringIO(text, newline="")))
    assert all(list(row) == header for row in rows), "JSON objects have the CSV's columns"
    assert read == [[_cell(row[name]) for name in header] for row in rows]
    return rows


@pytest.fixture
def two(services: Services, catalogue: Catalogue) -> Iterator[dict[str, int]]:
    """Oak and elm (tests/cloud/communities.py); oak's side gate, in zone north, bound to a
    second jammed gate controller ``g2`` — a ticket there too — and oak's gate renamed to
    :data:`ODD_NAME`. Ids by name, and ``north`` (oak's zone), ``oak_side_ticket``."""
    ids = two_communities(services, catalogue)
    services.writer.write(
        batch("gw-a", 10, [item(catalogue, GATE, "motor_jammed", device_id="g2")])
    )
    with services.sessions() as session:
        g2 = session.scalar(select(Device.id).where(Device.device_id == "g2"))
    with client_as(services, "setup", Role.OPERATOR_ADMIN, None) as root:
        bound = root.put(
            f"/api/v1/devices/{g2}/facility", json={"facility_id": ids["oak_side_gate"]}
        )
        assert bound.status_code == 200, bound.text
        gate = next(f for f in root.get("/api/v1/facilities").json() if f["name"] == "oak gate")
        renamed = root.patch(f"/api/v1/facilities/{gate['id']}", json={"name": ODD_NAME})
        assert renamed.status_code == 200, renamed.text
        ids["oak_gate"] = gate["id"]
        ids["north"] = next(
            z["id"]
            for z in root.get("/api/v1/zones", params={"community_id": ids["oak"]}).json()
            if z["slug"] == "north"
        )
    with services.sessions() as session:
        side = session.scalar(select(Ticket.id).where(Ticket.facility_id == ids["oak_side_gate"]))
    assert side
    ids["oak_side_ticket"] = side
    yield ids


def test_tickets_in_both_formats_of_the_callers_community_only(
    services: Services, two: dict[str, int]
) -> None:
    with (
        client_as(services, "zhang", Role.PROPERTY_MANAGER, two["oak"]) as zhang,
        client_as(services, "root", Role.OPERATOR_ADMIN, None) as root,
    ):
        rows = export(zhang, "tickets", **{"from": SINCE, "to": _until()})
        assert sorted(r["id"] for r in rows) == sorted([two["oak_ticket"], two["oak_side_ticket"]])
        gate = next(r for r in rows if r["id"] == two["oak_ticket"])
        assert (gate["name"], gate["facility"], gate["scope"], gate["community"]) == (
            ODD_NAME,
            ODD_NAME,
            "facility",
            "Oak",
        )
        assert (gate["fault"], gate["state"], gate["zone"]) == ("motor_jammed", "open", None)
        assert gate["opened_at"] == "2025-11-27T00:00:00Z"
        assert gate["respond_breached"] in (True, False)
        side = next(r for r in rows if r["id"] == two["oak_side_ticket"])
        assert (side["zone_id"], side["zone"]) == (two["north"], "North")

        assert export(zhang, "tickets", community_id=two["elm"]) == [], "never another's"
        everyone = export(root, "tickets", **{"from": SINCE})
        assert {r["community"] for r in everyone} == {"Oak", "Elm"}
        elm = export(root, "tickets", community_id=two["elm"])
        assert [r["id"] for r in elm] == [two["elm_ticket"]]


def test_tickets_by_zone_and_period(services: Services, two: dict[str, int]) -> None:
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, two["oak"]) as zhang:
        north = export(zhang, "tickets", zone_id=two["north"], **{"from": SINCE})
        assert [r["id"] for r in north] == [two["oak_side_ticket"]]
        assert export(zhang, "tickets", **{"from": "2025-11-01T00:00:00Z", "to": SINCE}) == []
        cancelled = zhang.post(
            f"/api/v1/tickets/{two['oak_side_ticket']}/cancel", json={"note": "a test"}
        )
        assert cancelled.status_code == 200, cancelled.text
        later = datetime.now(UTC) + HOUR
        after = export(
            zhang,
            "tickets",
            **{"from": later.isoformat(), "to": (later + HOUR).isoformat()},
        )
        assert [r["id"] for r in after] == [two["oak_ticket"]], "cancelled before: not there"
        row = next(
            r for r in export(zhang, "tickets", **{"from": SINCE}) if r["state"] == "cancelled"
        )
        assert row["cancelled_at"].endswith("Z")


def test_a_maintainer_exports_their_zones_only(services: Services, two: dict[str, int]) -> None:
    with maintainer_li(services, two) as (li, _):
        tickets = export(li, "tickets", **{"from": SINCE})
        assert [r["id"] for r in tickets] == [two["oak_side_ticket"]]
        facilities = export(li, "facilities")
        assert [f["id"] for f in facilities] == [two["oak_side_gate"]]
        figures = export(li, "figures", **{"from": SINCE, "to": _until()})
        assert [(f["key"], f["facilities"]) for f in figures] == [("all", 1)]


def test_facilities_with_their_health_and_a_name_to_quote(
    services: Services, two: dict[str, int]
) -> None:
    with client_as(services, "chen", Role.SUPERVISOR, two["oak"]) as chen:
        rows = export(chen, "facilities")
        assert {r["name"] for r in rows} == {ODD_NAME, "oak side gate"}
        gate = next(r for r in rows if r["id"] == two["oak_gate"])
        assert (gate["health"], gate["status"], gate["open_tickets"]) == ("faulty", "faulty", 1)
        assert gate["health_since"].endswith("Z")
        raw = chen.get(f"{EXPORTS}/facilities.csv").content.decode()
        assert '"Gate ""A"", 东门"' in raw, "RFC 4180: quoted, quotes doubled, UTF-8"
        bom = chen.get(f"{EXPORTS}/facilities.csv", params={"bom": True}).content
        assert bom.startswith("\ufeffid,".encode())
        north = export(chen, "facilities", zone_id=two["north"])
        assert [(r["zone"], r["name"]) for r in north] == [("North", "oak side gate")]
        assert export(chen, "facilities", community_id=two["elm"]) == []


def test_a_gateway_offline_makes_its_facilities_unknown(
    services: Services, two: dict[str, int]
) -> None:
    with services.sessions.begin() as session:
        gateway = session.get(Gateway, "gw-b")
        assert gateway is not None
        gateway.online = False
    with client_as(services, "root", Role.OPERATOR_ADMIN, None) as root:
        rows = export(root, "facilities", community_id=two["elm"])
        gate = next(r for r in rows if r["name"] == "elm gate")
        assert (gate["health"], gate["status"]) == ("faulty", "unknown")


def test_figures_per_group(services: Services, two: dict[str, int]) -> None:
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, two["oak"]) as zhang:
        period = {"from": SINCE, "to": _until()}
        (whole,) = export(zhang, "figures", **period)
        assert (whole["group_by"], whole["key"], whole["community_id"]) == (None, "all", two["oak"])
        assert (whole["facilities"], whole["tickets"], whole["failures"]) == (2, 2, 2)
        assert whole["from"] == SINCE
        assert whole["mtbf_status"] == "no_interval"
        by_zone = export(zhang, "figures", group_by="zone", **period)
        assert [(r["name"], r["tickets"]) for r in by_zone] == [("(no zone)", 1), ("North", 1)]
        by_facility = export(zhang, "figures", group_by="facility", **period)
        assert {r["name"] for r in by_facility} == {ODD_NAME, "oak side gate"}
        north = export(zhang, "figures", zone_id=two["north"], **period)
        assert [(r["facilities"], r["tickets"]) for r in north] == [(1, 1)]
        before = export(zhang, "figures", **{"from": "2025-11-01T00:00:00Z", "to": SINCE})
        assert [(r["tickets"], r["failures"]) for r in before] == [(0, 0)]
        elm = export(zhang, "figures", community_id=two["elm"], **period)
        assert [(r["facilities"], r["tickets"]) for r in elm] == [(0, 0)], "never another's"
        # as the figures API says
        api = zhang.get("/api/v1/figures/repairs", params=period).json()
        assert (whole["mttr_s"], whole["sla_compliance"]) == (
            api["mttr"]["mttr_s"],
            api["sla"]["compliance"],
        )


def test_utilisation_per_group(services: Services, two: dict[str, int]) -> None:
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, two["oak"]) as zhang:
        rows = export(zhang, "utilisation", group_by="zone", **{"from": SINCE, "to": _until()})
        assert [(r["name"], r["facilities"]) for r in rows] == [("(no zone)", 1), ("North", 1)]
        assert all(isinstance(r["uses"], int) for r in rows)


def test_a_format_other_than_csv_or_json_is_404(services: Services, two: dict[str, int]) -> None:
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, two["oak"]) as zhang:
        for path in ("tickets.xml", "facilities.xlsx", "figures.CSV", "telemetry.txt"):
            answer = zhang.get(f"{EXPORTS}/{path}", params={"device_pk": 1, "metric": "on"})
            assert answer.status_code == 404, path
            assert "csv" in answer.json()["detail"], answer.text


def test_exports_need_the_resources_permissions(services: Services, two: dict[str, int]) -> None:
    """A token reads what its scopes let it read."""
    make_account(services, "issuer", Role.OPERATOR_ADMIN)
    with services.sessions() as session:
        account = session.scalar(select(Account.id).where(Account.username == "issuer"))
    issuer = Principal("issuer", Role.OPERATOR_ADMIN, None, account_id=account)
    token = services.access.issue_token(
        issuer, "register only", frozenset({"register:read"}), two["oak"], datetime.now(UTC)
    )
    with TestClient(create_app(services)) as client:
        client.headers["Authorization"] = f"Bearer {token.token}"
        assert [r["community_id"] for r in export(client, "facilities")] == [two["oak"]] * 2
        for what in ("tickets", "figures", "utilisation"):
            assert client.get(f"{EXPORTS}/{what}.csv").status_code == 403, what
        telemetry = client.get(
            f"{EXPORTS}/telemetry.csv", params={"device_pk": two["oak_device"], "metric": "x"}
        )
        assert telemetry.status_code == 403


@pytest.fixture
def lamp(services: Services, catalogue: Catalogue) -> tuple[int, datetime]:
    """A lamp of gateway gw-1 on from minute 10 to minute 40 of an hour three hours ago;
    its id and that hour."""
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 3 * HOUR
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
        found = session.scalar(select(Device.id).where(Device.device_id == "light-01"))
    assert found is not None
    return found, base


def test_telemetry_raw_and_in_buckets_and_bounded(
    services: Services, lamp: tuple[int, datetime]
) -> None:
    pk, base = lamp
    with client_as(services, "root", Role.OPERATOR_ADMIN, None) as root:
        raw = export(
            root,
            "telemetry",
            device_pk=pk,
            metric="current",
            **{"from": base.isoformat(), "to": (base + HOUR).isoformat()},
        )
        assert [(r["t"][11:16], r["value"], r["resolution"]) for r in raw] == [
            (f"{base.hour:02}:10", 0.42, "raw"),
            (f"{base.hour:02}:25", 0.42, "raw"),
            (f"{base.hour:02}:40", 0.0, "raw"),
        ]
        assert raw[0]["t"].endswith("Z") and raw[0]["unit"] == "A"
        hours = export(
            root,
            "telemetry",
            device_pk=pk,
            metric="on",
            step=3600,
            **{"from": base.isoformat(), "to": (base + 3 * HOUR).isoformat()},
        )
        assert [(r["resolution"], r["step"], r["count"]) for r in hours] == [("1h", 3600, 3)] + [
            ("1h", 3600, n) for n in (1, 0)
        ]
        assert hours[0]["share"] == pytest.approx(30 / 50)
        assert hours[2]["last"] is False

        too_many = root.get(
            f"{EXPORTS}/telemetry.csv",
            params={
                "device_pk": pk,
                "metric": "current",
                "step": 60,
                "from": (base - timedelta(days=365)).isoformat(),
            },
        )
        assert too_many.status_code == 409, too_many.text
        assert "larger step" in too_many.json()["detail"]
        unknown = root.get(f"{EXPORTS}/telemetry.json", params={"device_pk": pk, "metric": "x"})
        assert unknown.status_code == 404 and "current" in unknown.json()["detail"]


def test_telemetry_of_another_communitys_device_is_404(
    services: Services, two: dict[str, int]
) -> None:
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, two["oak"]) as zhang:
        params = {"metric": "motor_state"}
        elm = zhang.get(
            f"{EXPORTS}/telemetry.json", params={**params, "device_pk": two["elm_device"]}
        )
        assert elm.status_code == 404, elm.text
