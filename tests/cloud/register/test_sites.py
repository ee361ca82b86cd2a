"""A site file applied to the register, and the register exported as one; on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.db.models import (
    Community,
    Device,
    DeviceMove,
    Facility,
    Gateway,
    Person,
    PersonZone,
    Ticket,
    Zone,
)
from cloud.register.gateways import RegisterConflict
from cloud.register.site_export import export_site
from cloud.register.sites import apply_site
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.site import Site, load_site, site_text
from tests.cloud.helpers import GATE, batch, count, item

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "greenwood.site.yaml"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def apply(services: Services, site: Site) -> str:
    with services.sessions.begin() as session:
        return apply_site(session, site, NOW, services.tickets).summary()


def facility_of(services: Services, gateway: str, device: str) -> Facility:
    with services.sessions() as session:
        found = session.scalar(
            select(Facility)
            .join(Device, Device.facility_id == Facility.id)
            .where(Device.gateway_id == gateway, Device.device_id == device)
        )
        assert found is not None
        return found


def test_applying_a_site_builds_the_register_and_again_changes_nothing(
    services: Services,
) -> None:
    site = load_site(EXAMPLE)
    first = apply(services, site)
    assert "facilities: 4 new" in first and "people: 4 new" in first
    assert apply(services, site) == ""
    assert communities(services) == {"greenwood", "tests"}  # and the tests' own
    assert count(services.sessions, Zone) == 3
    with services.sessions() as session:
        gateway = session.get(Gateway, "gw-north")
        assert gateway is not None and gateway.provisioned_at is not None
        wang = session.scalar(select(Person).where(Person.slug == "wang.lei"))
        assert wang is not None and wang.skills == ["electrical", "mechanical"]
        zones = session.scalars(
            select(Zone.slug)
            .join(PersonZone, PersonZone.zone_id == Zone.id)
            .where(PersonZone.person_id == wang.id)
        )
        assert set(zones) == {"north", "garden"}


def test_the_register_exports_as_the_file_it_came_from(services: Services, tmp_path: Path) -> None:
    site = load_site(EXAMPLE)
    apply(services, site)
    with services.sessions() as session:
        exported = export_site(session, "greenwood")
    written = tmp_path / "exported.yaml"
    written.write_text(site_text(exported))
    again = load_site(written)

    def normal(s: Site) -> dict[str, object]:
        dumped = s.model_dump()
        for person in dumped["people"].values():
            person["zones"] = sorted(person["zones"])
        return dumped

    assert normal(again) == normal(site)


def test_a_device_bound_before_it_is_heard_from_joins_its_facility(
    services: Services, catalogue: Catalogue
) -> None:
    apply(services, load_site(EXAMPLE))
    facilities = count(services.sessions, Facility)
    services.writer.write(
        batch("gw-north", 1, [item(catalogue, GATE, "motor_jammed", device_id="gate-01")])
    )
    gate = facility_of(services, "gw-north", "gate-01")
    assert (gate.code, gate.name, gate.health) == ("north-gate", "North gate", "faulty")
    assert count(services.sessions, Facility) == facilities  # none of its own


def test_a_device_heard_from_unassigned_joins_its_facility_with_its_faults(
    services: Services, catalogue: Catalogue
) -> None:
    """Heard from before any facility lists it, a device is unassigned: its readings and
    health are kept, but its fault opens no ticket. Bound by the site file, it joins its
    facility with its health, its active fault opens a ticket there, and the move is in its
    history."""
    apply(services, gateway_only("greenwood", "gw-north"))
    services.writer.write(
        batch("gw-north", 1, [item(catalogue, GATE, "motor_jammed", device_id="gate-01")])
    )
    with services.sessions() as session:
        device = session.scalar(select(Device).where(Device.device_id == "gate-01"))
        assert device is not None
        assert (device.facility_id, device.health) == (None, "faulty")
    assert count(services.sessions, Ticket) == 0

    summary = apply(services, load_site(EXAMPLE))

    assert "1 device(s) moved" in summary
    gate = facility_of(services, "gw-north", "gate-01")
    assert (gate.code, gate.health) == ("north-gate", "faulty")
    with services.sessions() as session:
        [ticket] = session.scalars(select(Ticket)).all()
        assert (ticket.facility_id, ticket.fault) == (gate.id, "motor_jammed")
        [move] = session.scalars(select(DeviceMove)).all()
        assert (move.from_facility_id, move.to_facility_id) == (None, gate.id)
        assert move.actor == "site file"


def test_a_gateway_may_take_new_devices_as_facilities_of_their_own(
    services: Services, catalogue: Catalogue
) -> None:
    apply(services, gateway_only("greenwood", "gw-north", new_devices="own-facility"))
    services.writer.write(
        batch("gw-north", 1, [item(catalogue, GATE, "motor_jammed", device_id="gate-01")])
    )
    own = facility_of(services, "gw-north", "gate-01")
    assert (own.code, own.health) == ("gate-01", "faulty")
    assert count(services.sessions, Ticket) == 1

    apply(services, load_site(EXAMPLE))  # the file binds it after all

    gate = facility_of(services, "gw-north", "gate-01")
    assert (gate.code, gate.health) == ("north-gate", "faulty")
    with services.sessions() as session:
        left = session.get(Facility, own.id)
        assert left is not None and left.health == "ok"  # no device left in it
        assert left.community_id == gate.community_id
        # the repair of the old facility stays open where it was opened; the gate has its own
        assert {t.facility_id for t in session.scalars(select(Ticket))} == {own.id, gate.id}


def gateway_only(community: str, gateway: str, **spec: str) -> Site:
    return Site.model_validate(
        {
            "schema": "linli.site/v1",
            "community": {"id": community, "name": community.title()},
            "gateways": {gateway: spec},
        }
    )


def communities(services: Services) -> set[str]:
    with services.sessions() as session:
        return set(session.scalars(select(Community.slug)))


def test_an_edited_file_updates_what_changed(services: Services, tmp_path: Path) -> None:
    apply(services, load_site(EXAMPLE))
    edited = tmp_path / "edited.yaml"
    edited.write_text(
        EXAMPLE.read_text()
        .replace("name: North gate\n", "name: North gate (main)\n")
        .replace("zones: [north, garden]", "zones: [garden]")
    )
    summary = apply(services, load_site(edited))
    assert "facilities: 0 new, 1 changed" in summary
    assert "people: 0 new, 1 changed" in summary


def test_a_gateway_of_another_community_is_a_conflict(services: Services, tmp_path: Path) -> None:
    apply(services, load_site(EXAMPLE))
    other = tmp_path / "oak.yaml"
    other.write_text(
        "schema: linli.site/v1\n"
        "community: {id: oak, name: Oak Court}\n"
        "gateways: {gw-north: {name: Stolen}}\n"
    )
    with pytest.raises(RegisterConflict, match="gw-north belongs to another community"):
        apply(services, load_site(other))
    assert communities(services) == {"greenwood", "tests"}  # nothing of it was kept
