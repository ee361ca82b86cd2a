"""The manager dashboard: zones with their facilities' health, open tickets with missed
targets marked, gateways, figures, a facility's data drawn as SVG, the fragments the page
swaps in when tickets change — each to whom may see it, in the viewer's language."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cloud.access.roles import Role
from cloud.app import create_app
from cloud.db.models import Facility, Gateway
from cloud.services import Services
from cloud.web.charts_svg import Scale, line_chart, nice_ticks, segments
from device_profiles import Catalogue
from tests.cloud.communities import client_as, maintainer_li, two_communities
from tests.cloud.helpers import LIGHT, batch, item, rolled_up

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def section(html: str, part: str) -> str:
    found = re.search(rf'<section id="{part}"[^>]*>(.*?)</section>\n  <section', html, re.S)
    if found is None:
        found = re.search(rf'<section id="{part}"[^>]*>(.*)</main>', html, re.S)
    assert found, f"no section {part}"
    return found.group(1)


def tile(html: str, name: str) -> str:
    found = re.search(rf"<h3 [^>]*>{re.escape(name)}</h3>(.*?)</ul>", html, re.S)
    assert found, f"no tile {name}"
    return found.group(1)


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(found) for found in re.findall(r"<svg .*?</svg>", html, re.S)]


# -- the SVG charts -----------------------------------------------------------------------


def test_ticks_are_round_and_cover_the_values() -> None:
    assert nice_ticks(0, 10) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(0.1, 0.93) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(229.5, 231) == [229.5, 230, 230.5, 231]
    flat = nice_ticks(5, 5)
    assert flat[0] < 5 < flat[-1]
    assert nice_ticks(-3, 12)[0] <= -3 and nice_ticks(-3, 12)[-1] >= 12


def test_a_scale_maps_its_domain_onto_pixels() -> None:
    y = Scale(0, 10, 200, 0)  # pixels grow downwards
    assert (y(0), y(5), y(10)) == (200, 100, 0)
    assert Scale(3, 3, 0, 100)(3) == 50  # one value: the middle


def test_missing_values_and_long_silences_break_the_line() -> None:
    t = [NOW + timedelta(minutes=m) for m in range(6)]
    points = [(t[0], 1.0), (t[1], 2.0), (t[2], None), (t[3], 3.0), (t[5], 4.0)]
    assert [len(run) for run in segments(points)] == [2, 2]
    assert [len(run) for run in segments(points, gap_s=90)] == [2, 1, 1]
    assert segments([(t[0], float("nan"))]) == []


def draw(points: list[tuple[datetime, float | None]], **extra: object) -> str:
    return line_chart(
        points,
        start=NOW,
        end=NOW + timedelta(hours=1),
        title="voltage (V) of light-01",
        number=lambda v: f"{v:g}",
        moment=lambda m: m.strftime("%H:%M"),
        **extra,  # type: ignore[arg-type]
    )


def test_a_chart_is_valid_svg_with_a_title_and_its_points() -> None:
    t = [NOW + timedelta(minutes=m) for m in (0, 10, 20, 40, 50)]
    svg = ET.fromstring(draw([(t[0], 230), (t[1], 231), (t[2], None), (t[3], 229), (t[4], 230)]))

    assert svg.get("role") == "img" and svg.get("aria-label") == "voltage (V) of light-01"
    assert svg.findtext(f"{SVG}title") == "voltage (V) of light-01"
    lines = svg.findall(f"{SVG}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]
    assert svg.get("data-points") == "4"
    labels = [text.text for text in svg.findall(f"{SVG}text")]
    assert "12:00" in labels and "13:00" in labels and "230" in labels
    first = [float(c) for c in lines[0].get("points", "").split()[0].split(",")]
    assert first[0] == 56  # the start of the period is the left edge of the plot


def test_an_empty_chart_says_so_and_one_point_is_a_dot() -> None:
    empty = ET.fromstring(draw([], empty="No data in this period"))
    assert empty.get("data-points") == "0"
    assert "No data in this period" in [t.text for t in empty.findall(f"{SVG}text")]
    dot = ET.fromstring(draw([(NOW, 1.0)]))
    assert len(dot.findall(f"{SVG}circle")) == 1
    escaped = ET.fromstring(draw([], empty="<b>&"))
    assert "<b>&" in [t.text for t in escaped.findall(f"{SVG}text")]


# -- the page -----------------------------------------------------------------------------


def test_the_dashboard_shows_zones_tickets_gateways_and_figures(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    services.rounds.run(services.sessions, datetime.now(UTC))  # its targets are long missed
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        html = zhang.get("/").text

        zones = section(html, "zones")
        assert "oak gate" in tile(zones, "Not in a zone") and "faulty" in zones
        north = tile(zones, "North")
        assert 'aria-label="oak side gate: ok, open tickets: 0"' in north
        assert "elm" not in zones, "another community's facilities are not shown"
        assert 'data-count="faulty"><span aria-hidden="true">✕</span> faulty: 1' in zones

        tickets = section(html, "tickets")
        gate = re.search(rf'<tr data-ticket="{ids["oak_ticket"]}">(.*?)</tr>', tickets, re.S)
        assert gate is not None
        assert 'data-breached="true"' in gate[1] and "✕</span> breached" in gate[1]
        assert "— missed" in gate[1] and "respond by" in gate[1]
        assert 'data-move="assign"' in gate[1], "a manager's moves, as the API gives them"
        assert f'data-ticket="{ids["elm_ticket"]}"' not in tickets
        assert "1 missed a target" in tickets

        gateways = section(html, "gateways")
        assert 'data-gateway="gw-a"' in gateways and "gw-b" not in gateways

        figures = section(html, "figures")
        for name in ("mttr", "mtbf", "sla", "repeats"):
            assert f'data-figure="{name}"' in figures
        assert "0 repairs" in figures  # the gate failed long before the last 7 days
        assert "No facility failed in this period." in figures
        assert re.search(r'data-idle="gate">.*oak gate', figures), "it counted no use"
        assert "Repair figures, last 7 days" in figures
        assert "last 30 days" in zhang.get("/?days=30").text

        with services.sessions.begin() as session:  # gw-a goes offline
            session.execute(update(Gateway).where(Gateway.id == "gw-a").values(online=False))
        offline = zhang.get("/dashboard/fragments/gateways").text
        assert re.search(r'data-gateway="gw-a">.*?offline', offline, re.S)
        assert "0 online, 1 offline" in offline
        cells = zhang.get("/dashboard/fragments/zones").text
        assert re.search(r'class="cell unknown"[^>]*data-status="unknown"', cells)


def test_the_fragments_are_the_pages_parts_for_who_may_see_them(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        page = zhang.get("/").text
        assert 'data-live="zones tickets gateways"' in page
        assert '<script src="/static/dashboard.js" defer>' in page
        assert 'http-equiv="refresh"' not in page and "location.reload" not in page

        tickets = zhang.get("/dashboard/fragments/tickets")
        assert tickets.status_code == 200 and tickets.headers["cache-control"] == "no-store"
        assert tickets.text.startswith('<h2 id="tickets-title">Open tickets (1)</h2>')
        assert f'data-ticket="{ids["oak_ticket"]}"' in tickets.text
        assert "<html" not in tickets.text
        # another community asked for: their own is shown all the same
        theirs = zhang.get(f"/dashboard/fragments/tickets?community={ids['elm']}").text
        assert f'data-ticket="{ids["elm_ticket"]}"' not in theirs
        assert zhang.get("/dashboard/fragments/secrets").status_code == 422
        script = zhang.get("/static/dashboard.js")
        assert script.status_code == 200 and "EventSource" in script.text

    with TestClient(create_app(services)) as nobody:
        assert nobody.get("/dashboard/fragments/tickets").status_code == 401
        first = nobody.get("/", follow_redirects=False)
        assert (first.status_code, first.headers["location"]) == (303, "/login")
        facility = nobody.get(
            f"/dashboard/facilities/{ids['oak_side_gate']}", follow_redirects=False
        )
        assert facility.headers["location"] == "/login"


def test_operators_choose_a_community_and_maintainers_have_their_own_view(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    with client_as(services, "ops", Role.OPERATOR_ADMIN, None) as ops:
        every = ops.get("/").text
        assert "oak gate" in every and "elm gate" in every
        assert f'<option value="{ids["elm"]}">Elm</option>' in every
        elm = ops.get(f"/?community={ids['elm']}").text
        assert "elm gate" in elm and "oak gate" not in elm
        assert f'data-query="community={ids["elm"]}"' in elm
        assert ops.get("/?community=999999").status_code == 404
    with maintainer_li(services, ids) as (li, _li_id):
        home = li.get("/", follow_redirects=False)
        assert (home.status_code, home.headers["location"]) == (303, "/my")
        assert li.get(f"/dashboard/facilities/{ids['oak_side_gate']}").status_code == 200
        with services.sessions() as session:
            oak_gate = session.scalar(
                select(Facility.id).where(
                    Facility.community_id == ids["oak"], Facility.code == "gate"
                )
            )
        assert li.get(f"/dashboard/facilities/{oak_gate}").status_code == 404, "not Li's zone"
        assert li.get(f"/dashboard/facilities/{ids['elm_side_gate']}").status_code == 404
        zones = li.get("/dashboard/fragments/zones").text
        assert "oak side gate" in zones and "oak gate:" not in zones and "elm" not in zones


def test_the_exports_of_what_the_dashboard_shows_are_a_click_away(
    services: Services, catalogue: Catalogue
) -> None:
    """Other parties (an owners' committee, the city) get the tickets, the facilities'
    health and the figures as files: the links download the period and community shown."""
    ids = two_communities(services, catalogue)
    with client_as(services, "ops", Role.OPERATOR_ADMIN, None) as ops:
        figures = section(ops.get(f"/?community={ids['oak']}&days=30").text, "figures")
        links = dict(
            re.findall(r'<li data-export="(\w+)">.*?<a href="([^"]+\.csv[^"]*)"', figures, re.S)
        )
        assert set(links) == {"tickets", "facilities", "figures", "utilisation"}
        tickets = links["tickets"].replace("&amp;", "&")
        assert f"community_id={ids['oak']}" in tickets and "from=" in tickets
        answer = ops.get(tickets)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        rows = answer.text.splitlines()
        assert len(rows) == 2 and "oak gate" in rows[1], "oak's one ticket of the 30 days"
        health = ops.get(links["facilities"].replace("&amp;", "&"))
        assert "oak gate" in health.text and "elm gate" not in health.text
        for name in ("figures", "utilisation"):
            assert ops.get(links[name].replace("&amp;", "&")).status_code == 200, name
        json_links = re.findall(r'href="(/api/v1/exports/tickets\.json[^"]*)"', figures)
        assert ops.get(json_links[0].replace("&amp;", "&")).json()[0]["name"] == "oak gate"


def test_a_facility_shows_its_devices_tickets_and_data_as_charts(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    now = datetime.now(UTC)
    readings = [
        item(catalogue, LIGHT, name, ts=now - timedelta(minutes=minutes))
        for minutes, name in ((40, "normal_off"), (30, "normal_on"), (20, "normal_off"))
    ]
    services.writer.write(batch("gw-1", 1, readings))
    with services.sessions() as session:
        light = session.scalar(select(Facility.id).where(Facility.code == "light-01"))

    html = client.get(f"/dashboard/facilities/{light}?span=hour").text

    assert 'data-device="light-01"' in html and "No open tickets." in html
    charts = {c.get("aria-label"): c for c in svgs(html)}
    voltage = charts["voltage (V) of light-01, Last hour"]
    assert voltage.get("data-points") == "3"
    assert len(voltage.findall(f"{SVG}polyline")) == 1
    assert charts["on of light-01, Last hour"].get("data-points") == "3"
    assert 'aria-current="true">Last hour' in html
    rolled_up(services.upkeep, datetime.now(UTC))  # a week is drawn from the roll-ups
    week = client.get(f"/dashboard/facilities/{light}?span=week").text
    assert all(int(c.get("data-points") or 0) >= 1 for c in svgs(week))
    assert client.get(f"/dashboard/facilities/{light}?span=year").status_code == 422
    assert client.get("/dashboard/facilities/999999").status_code == 404


def test_the_dashboard_in_chinese_by_the_browsers_language(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    services.writer.write(batch("gw-1", 1, [item(catalogue, LIGHT, "normal_on")]))
    with services.sessions() as session:
        light = session.scalar(select(Facility.id).where(Facility.code == "light-01"))

    html = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text

    assert '<html lang="zh-Hans">' in html
    assert "各区域设施" in html and "未完成工单" in html
    assert "维修指标" in html and "最近 7 天" in html
    assert "Facilities by zone" not in html
    facility = client.get(f"/dashboard/facilities/{light}", headers={"Accept-Language": "zh-CN"})
    assert "最近数据" in facility.text and "最近一天" in facility.text
