"""Site files (linli.site/v1): a community as data; every problem as file:line: field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from device_profiles.cli import Format, schema_text
from device_profiles.site import Role, SiteError, load_site

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "greenwood.site.yaml"


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    with pytest.raises(SiteError) as failure:
        load_site(path)
    return [str(issue).removeprefix(f"{path}:") for issue in failure.value.issues]


MINIMAL = "schema: linli.site/v1\ncommunity: {id: oak, name: Oak Court}\n"


def test_the_example_community_loads_whole() -> None:
    site = load_site(EXAMPLE)
    assert site.community.time_zone == "Asia/Shanghai"
    assert set(site.zones) == {"north", "building-5", "garden"}
    assert site.zones["building-5"].kind == "building"
    lights = site.facilities["garden-lights"]
    assert [(d.gateway, d.device) for d in lights.devices] == [
        ("gw-north", "light-01"),
        ("gw-north", "light-02"),
    ]
    assert (site.sla["urgent"].acknowledge_within, site.sla["standard"].resolve_within) == (
        15 * 60,
        3 * 86400,
    )
    assert site.calendars["office"].holidays[0] == date(2027, 1, 1)
    assert site.people["wang.lei"].role is Role.MAINTAINER
    assert site.people["wang.lei"].zones == ("north", "garden")


def test_a_minimal_site_is_a_community(tmp_path: Path) -> None:
    path = tmp_path / "oak.yaml"
    path.write_text(MINIMAL)
    site = load_site(path)
    assert (site.community.id, site.community.time_zone) == ("oak", "UTC")
    assert site.facilities == {} and site.people == {}


def test_names_that_point_nowhere_are_located(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        MINIMAL
        + "zones: {north: {name: North}}\n"
        + "gateways: {gw-1: {name: One}}\n"
        + "facilities:\n"
        + "  gate:\n"
        + "    name: Gate\n"
        + "    zone: south\n"
        + "    devices:\n"
        + "      - {gateway: gw-2, device: gate-01}\n"
        + "  door:\n"
        + "    name: Door\n"
        + "    devices:\n"
        + "      - {gateway: gw-1, device: d-1}\n"
        + "      - {gateway: gw-1, device: d-1}\n"
        + "  hall:\n"
        + "    name: Hall\n"
        + "    devices: [{gateway: gw-1, device: d-1}]\n"
        + "people:\n"
        + "  li: {name: Li, role: maintainer, zones: [north, east]}\n",
    )
    assert found == [
        "8: facilities.gate.zone: no zone 'south' in this file (its zones: north)",
        "10: facilities.gate.devices[0].gateway: no gateway 'gw-2' in this file "
        "(its gateways: gw-1)",
        "15: facilities.door.devices[1].device: gw-1/d-1 is listed twice",
        "18: facilities.hall.devices[0].device: gw-1/d-1 is a device of facility door too",
        "20: people.li.zones[1]: no zone 'east' in this file (its zones: north)",
    ]


def test_values_are_checked_where_they_stand(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "schema: linli.site/v1\n"
        "community: {id: Oak Court, name: Oak, time_zone: Mars/Olympus}\n"
        "calendars:\n"
        "  office: {hours: {mon: '18:00-08:00'}}\n"
        "sla:\n"
        "  slow: {acknowledge_within: 2d, resolve_within: 1d}\n"
        "  odd: {acknowledge_within: soon, resolve_within: 1d}\n"
        "people:\n"
        "  li: {name: Li, role: janitor, email: not-an-address}\n"
        "gateways:\n"
        "  gw-1: {name: One, colour: red}\n",
    )
    assert [line.split(":")[0:2] for line in found] == [
        ["2", " community.id"],
        ["2", " community.time_zone"],
        ["4", " calendars.office.hours"],
        ["6", " sla.slow"],
        ["7", " sla.odd.acknowledge_within"],
        ["9", " people.li.role"],
        ["9", " people.li.email"],
        ["11", " gateways.gw-1.colour"],
    ]
    assert any("Mars/Olympus" in line for line in found)
    assert any("'18:00-08:00' is not HH:MM-HH:MM" in line for line in found)
    assert any(
        "acknowledge_within must not be longer than resolve_within" in line for line in found
    )


def test_a_file_without_its_schema_line_says_so(tmp_path: Path) -> None:
    found = problems(tmp_path, "community: {id: oak, name: Oak}\n")
    assert found == ["1: schema: Field required"]


def test_the_committed_schema_is_current() -> None:
    committed = (REPO / "docs" / "site.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(Format.SITE), (
        "docs/site.schema.json is stale: regenerate it with `make schema`"
    )
