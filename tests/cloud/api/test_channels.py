"""A person's channels — e-mail, MQTT push, which kinds of event: set in the site file under
the person, by the person through /api/v1/people/me/channels, and by the community's
property managers through /api/v1/people/{id}/channels."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from cloud.access.roles import Role
from cloud.db.models import Person
from cloud.register.site_export import export_site
from cloud.register.sites import apply_site
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.site import Site
from tests.cloud.communities import client_as, community_site, maintainer_li, two_communities

DEFAULTS = {"email": True, "mqtt": False, "kinds": None}


def test_everyone_chooses_their_own_channels(services: Services, catalogue: Catalogue) -> None:
    ids = two_communities(services, catalogue)
    with maintainer_li(services, ids) as (li, li_id):
        mine = li.get("/api/v1/people/me/channels")
        assert mine.status_code == 200
        assert {k: mine.json()[k] for k in DEFAULTS} == DEFAULTS
        assert mine.json()["mqtt_topics"] == "linli/community/oak/people/li/notices/+"
        chosen = {"email": False, "mqtt": True, "kinds": ["assigned", "reminded"]}
        put = li.put("/api/v1/people/me/channels", json=chosen)
        assert put.status_code == 200, put.text
        assert {k: put.json()[k] for k in chosen} == chosen
        assert li.get(f"/api/v1/people/{li_id}/channels").json() == put.json()
        other = li.put(f"/api/v1/people/{li_id + 1}/channels", json=chosen)
        assert other.status_code == 403, "not their own, and they manage nobody"
        bad = li.put("/api/v1/people/me/channels", json={"kinds": ["lunch"]})
        assert bad.status_code == 422
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        theirs = zhang.put(f"/api/v1/people/{li_id}/channels", json={"email": True})
        assert theirs.status_code == 200
        assert {k: theirs.json()[k] for k in DEFAULTS} == DEFAULTS
        assert zhang.get("/api/v1/people/me/channels").status_code == 403, "no person's"
        archived = zhang.post(f"/api/v1/people/{li_id}/archive")
        assert archived.status_code == 200
        assert zhang.put(f"/api/v1/people/{li_id}/channels", json={}).status_code == 409
    with client_as(services, "elm-pm", Role.PROPERTY_MANAGER, ids["elm"]) as elm:
        assert elm.get(f"/api/v1/people/{li_id}/channels").status_code == 404
        assert elm.put(f"/api/v1/people/{li_id}/channels", json={}).status_code == 404


def test_the_site_file_sets_channels_and_leaves_them_be_when_silent(services: Services) -> None:
    """Named under a person, the site file's channels are applied and exported; not named,
    what the person chose stays."""
    site = community_site("oak", "gw-a").model_dump(by_alias=True)
    site["people"]["li"]["channels"] = {"mqtt": True, "kinds": ["assigned"]}
    site["people"]["wu"] = {"name": "Wu", "role": "maintainer"}
    with services.sessions.begin() as session:
        apply_site(session, Site.model_validate(site), datetime.now(UTC), services.tickets)
        exported = export_site(session, "oak")
    li, wu = exported.people["li"], exported.people["wu"]
    assert li.channels is not None
    assert (li.channels.email, li.channels.mqtt, li.channels.kinds) == (True, True, ("assigned",))
    assert wu.channels is None
    with services.sessions() as session:
        people = {p.slug: p for p in session.scalars(select(Person))}
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, people["wu"].community_id) as zhang:
        assert zhang.put(f"/api/v1/people/{people['wu'].id}/channels", json={"email": False})
    del site["people"]["li"]["channels"]
    with services.sessions.begin() as session:
        apply_site(session, Site.model_validate(site), datetime.now(UTC), services.tickets)
        again = export_site(session, "oak")
    assert again.people["li"].channels == li.channels, "kept: the file no longer names them"
    assert again.people["wu"].channels is not None and not again.people["wu"].channels.email
