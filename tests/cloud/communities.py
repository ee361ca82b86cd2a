"""Two communities side by side, for tests of who sees what: oak (gateway gw-a) and elm
(gw-b), each with a zone, a building, a maintainer, a side gate with no device yet, and a
gate whose controller ``g1`` reports a jammed motor — so a ticket in each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.access.roles import Role
from cloud.app import create_app
from cloud.db.models import Community, Device, Facility, Person, Ticket
from cloud.register.sites import apply_site
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.site import Site
from tests.cloud.conftest import log_in, make_account
from tests.cloud.helpers import GATE, batch, item

GATEWAYS = {"oak": "gw-a", "elm": "gw-b"}


def community_site(slug: str, gateway: str) -> Site:
    return Site.model_validate(
        {
            "schema": "linli.site/v1",
            "community": {"id": slug, "name": slug.title(), "time_zone": "Asia/Shanghai"},
            "zones": {"north": {"name": "North"}, "b1": {"name": "Building 1", "kind": "building"}},
            "gateways": {gateway: {}},
            "facilities": {
                "gate": {
                    "name": f"{slug} gate",
                    "devices": [{"gateway": gateway, "device": "g1"}],
                },
                "side-gate": {"name": f"{slug} side gate", "zone": "north"},
            },
            "people": {"li": {"name": "Li", "role": "maintainer", "zones": ["north"]}},
        }
    )


def two_communities(services: Services, catalogue: Catalogue) -> dict[str, int]:
    """Both communities applied and their gates heard from; ids by name: ``oak``, ``elm``,
    and for each ``<slug>_ticket``, ``<slug>_device``, ``<slug>_side_gate``."""
    ids: dict[str, int] = {}
    with services.sessions.begin() as session:
        for slug, gateway in GATEWAYS.items():
            site = community_site(slug, gateway)
            ids[slug] = apply_site(session, site, datetime.now(UTC), services.tickets).community_id
    for n, gateway in enumerate(GATEWAYS.values()):
        services.writer.write(
            batch(gateway, n + 1, [item(catalogue, GATE, "motor_jammed", device_id="g1")])
        )
    with services.sessions() as session:
        for slug in GATEWAYS:
            in_it = Facility.community_id == ids[slug]
            ids[f"{slug}_ticket"] = (
                session.scalar(
                    select(Ticket.id).join(Facility, Facility.id == Ticket.facility_id).where(in_it)
                )
                or 0
            )
            ids[f"{slug}_device"] = (
                session.scalar(
                    select(Device.id).join(Facility, Facility.id == Device.facility_id).where(in_it)
                )
                or 0
            )
            ids[f"{slug}_side_gate"] = (
                session.scalar(select(Facility.id).where(in_it, Facility.code == "side-gate")) or 0
            )
    return ids


def client_as(services: Services, name: str, role: Role, community: int | None) -> TestClient:
    """A client logged in as a new account ``name`` of ``role`` in ``community``."""
    make_account(services, name, role, community)
    client = TestClient(create_app(services))
    log_in(client, name)
    return client


@contextmanager
def person_client(
    services: Services, manager: TestClient, slug: str, name: str, role: str, zones: list[int]
) -> Iterator[tuple[TestClient, int]]:
    """A person of the manager's community made through the API with a login; their client,
    logged in, and their id."""
    made = manager.post(
        "/api/v1/people",
        json={
            "slug": slug,
            "name": name,
            "role": role,
            "zone_ids": zones,
            "account": {"username": slug, "password": PASSWORD},
        },
    )
    assert made.status_code == 201, made.text
    with TestClient(create_app(services)) as client:
        log_in(client, slug, PASSWORD)
        yield client, made.json()["id"]


PASSWORD = "a-long-enough-password"


@contextmanager
def oak_crew(services: Services, catalogue: Catalogue) -> Iterator[Any]:
    """The two communities, with oak's property manager Zhang and supervisor Chen logged in,
    and two maintainers of its zone north, Lin and Wu, made by Zhang and logged in: (ids,
    zhang, chen, (lin, lin's person id), (wu, wu's person id))."""
    ids = two_communities(services, catalogue)
    with (
        client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang,
        client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen,
    ):
        north = {z["slug"]: z["id"] for z in zhang.get("/api/v1/zones").json()}["north"]
        with (
            person_client(services, zhang, "lin", "Lin", "maintainer", [north]) as lin,
            person_client(services, zhang, "wu", "Wu", "maintainer", [north]) as wu,
        ):
            yield ids, zhang, chen, lin, wu


def person_id(services: Services, slug: str, community: str = "oak") -> int:
    """The id of a person the site file of ``community`` made."""
    with services.sessions() as session:
        found = session.scalar(
            select(Person.id)
            .join(Community, Community.id == Person.community_id)
            .where(Person.slug == slug, Community.slug == community)
        )
    assert found is not None
    return found


@contextmanager
def maintainer_li(services: Services, ids: dict[str, int]) -> Iterator[tuple[TestClient, int]]:
    """Oak's maintainer Li (of its site file), with a login, logged in: their client and
    their person's id."""
    li_id = person_id(services, "li")
    make_account(services, "li", Role.MAINTAINER, ids["oak"], person_id=li_id)
    with TestClient(create_app(services)) as client:
        log_in(client, "li")
        yield client, li_id
