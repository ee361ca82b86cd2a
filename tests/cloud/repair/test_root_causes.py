"""Root causes, not floods: facilities of a zone failing together give one zone ticket that
lists them; a gateway gone quiet gives one gateway ticket, and its devices are unknown, not
faulty. Driven by an injectable clock on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.access.roles import Role
from cloud.db.models import Device, Ticket, TicketFacility
from cloud.ingest.writer import BatchWriter
from cloud.repair.gateways import GATEWAY_OFFLINE
from cloud.repair.lifecycle import Move
from cloud.repair.tickets import LIVE
from cloud.services import Services
from device_profiles.protocol import GatewayStatus
from device_profiles.site import Site
from tests.cloud.communities import client_as
from tests.cloud.helpers import ADMIN, GATE, LIGHT, batch, item
from tests.cloud.repair.community import GATE_FIXERS, community, events, set_up, ticket

T = datetime(2025, 11, 26, 2, 0, tzinfo=UTC)
"""A Wednesday, 10:00 in Shanghai."""
LIGHTS_OUT = {
    "title": "Lighting out in the zone",
    "category": "lighting",
    "faults": ["lamp_failure", "offline"],
    "at_least": 3,
    "within": "5m",
}


def site(**extra: object) -> Site:
    plain = community(**GATE_FIXERS).model_dump(by_alias=True, mode="json")
    plain["people"]["ma"] = {"name": "Ma", "role": "maintainer", "skills": ["electrical"]}
    plain.update(extra)
    return Site.model_validate(plain)


def writer_at(services: Services, at: datetime) -> BatchWriter:
    return BatchWriter(
        services.sessions, services.catalogue, services.health, services.metrics, clock=lambda: at
    )


class Feed:
    """Readings of gw-1's devices, each batch received when it says."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.seq = 0

    def send(self, at: datetime, *readings: tuple[str, str, str]) -> None:
        """(profile, example, device id) each, at ``at``."""
        self.seq += 1
        items = [
            item(self.services.catalogue, profile, example, ts=at, device_id=device)
            for profile, example, device in readings
        ]
        writer_at(self.services, at).write(batch("gw-1", self.seq, items))

    def status(self, at: datetime, *, online: bool) -> None:
        writer_at(self.services, at).record_status(GatewayStatus(gateway_id="gw-1", online=online))


def resolve(services: Services, ticket_id: int, at: datetime) -> None:
    with services.sessions.begin() as session:
        services.tickets.move(session, ticket_id, Move.RESOLVE, ADMIN, at=at, note="repaired")


def admin(services: Services) -> TestClient:
    return client_as(services, "admin", Role.OPERATOR_ADMIN, None)


def live_tickets(services: Services) -> list[Ticket]:
    with services.sessions() as session:
        return list(session.scalars(select(Ticket).where(Ticket.state.in_(LIVE))))


def all_tickets(services: Services) -> list[Ticket]:
    with services.sessions() as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


# ------------------------------------------------------------------------------ zones


def test_lamps_of_a_zone_failing_together_give_one_zone_ticket_that_lists_them(
    services: Services,
) -> None:
    set_up(services, site(grouping={"lights-out": LIGHTS_OUT}))
    feed = Feed(services)
    feed.send(T, *((LIGHT, "normal_on", f"light-0{n}") for n in range(1, 7)))
    for n in (1, 2):  # two lamps fail: a ticket each, nothing says it is the zone yet
        feed.send(T + timedelta(minutes=n), (LIGHT, "lamp_failure", f"light-0{n}"))
    assert len(live_tickets(services)) == 2

    feed.send(T + timedelta(minutes=3), (LIGHT, "lamp_failure", "light-03"))  # the third
    feed.send(T + timedelta(minutes=4), (LIGHT, "lamp_failure", "light-04"))
    feed.send(T + timedelta(minutes=30), (LIGHT, "lamp_failure", "light-05"))  # still out
    (zone,) = live_tickets(services)
    assert (zone.scope, zone.fault, zone.facility_id) == ("zone", "group:lights-out", None)
    assert zone.title == "Lighting out in the zone" and zone.skill == "electrical"
    with services.sessions() as session:
        members = session.scalars(
            select(TicketFacility).where(TicketFacility.ticket_id == zone.id)
        ).all()
        codes = sorted(m.facility.code for m in members)
    assert codes == [f"light-0{n}" for n in range(1, 6)]
    folded = [t for t in all_tickets(services) if t.id != zone.id]
    assert [(t.state, t.linked_id) for t in folded] == [("cancelled", zone.id)] * 2
    assert "zone ticket" in events(services, folded[0].id)[-1].note

    # a lamp of the zone comes back; the zone's fault clears only when all have
    for n in range(1, 5):
        feed.send(T + timedelta(minutes=40 + n), (LIGHT, "normal_on", f"light-0{n}"))
    assert ticket(services, zone.id).fault_cleared_at is None
    feed.send(T + timedelta(minutes=50), (LIGHT, "normal_on", "light-05"))
    assert ticket(services, zone.id).fault_cleared_at == T + timedelta(minutes=50)

    # the API and the web page show one ticket naming the zone and listing its lamps
    client = admin(services)
    listed = client.get("/api/v1/tickets", params={"state": "open"}).json()
    assert [(t["scope"], t["name"]) for t in listed] == [("zone", "North")]
    lamps = client.get("/api/v1/facilities", params={"category": "lighting"}).json()
    assert sorted(f["open_tickets"] for f in lamps) == [0, 1, 1, 1, 1, 1]  # light-06 is fine
    detail = client.get(f"/api/v1/tickets/{zone.id}").json()
    assert [f["name"][-8:] for f in detail["facilities"]] == [f"light-0{n}" for n in range(1, 6)]
    assert all(f["cleared_at"] is not None for f in detail["facilities"])


def test_a_zone_repair_is_verified_by_every_lamp_and_reopened_by_one(
    services: Services,
) -> None:
    set_up(services, site(grouping={"lights-out": LIGHTS_OUT}))
    feed = Feed(services)
    feed.send(T, *((LIGHT, "normal_on", f"light-0{n}") for n in range(1, 4)))
    for n in (1, 2, 3):
        feed.send(T + timedelta(minutes=n), (LIGHT, "lamp_failure", f"light-0{n}"))
    (zone,) = live_tickets(services)
    services.rounds.run(services.sessions, T + timedelta(minutes=4))
    assert ticket(services, zone.id).assignee_id is not None  # Ma: the only electrician
    for n in (1, 2, 3):
        feed.send(T + timedelta(minutes=20), (LIGHT, "normal_on", f"light-0{n}"))
    resolved = T + timedelta(minutes=21)
    resolve(services, zone.id, resolved)
    assert ticket(services, zone.id).state == "verifying"

    # two lamps report after the repair, one does not yet: the rounds wait for it
    after = ticket(services, zone.id).verify_until
    assert after is not None
    feed.send(after - timedelta(seconds=1), *((LIGHT, "normal_on", f"light-0{n}") for n in (1, 2)))
    services.rounds.run(services.sessions, after + timedelta(seconds=1))
    assert ticket(services, zone.id).state == "verifying"
    feed.send(after + timedelta(seconds=2), (LIGHT, "normal_on", "light-03"))
    services.rounds.run(services.sessions, after + timedelta(minutes=2))  # when it wakes
    assert ticket(services, zone.id).state == "closed"

    # the figures: one ticket, an outage of each lamp from its own failure to the clearing
    # at minute 20 (19, 18 and 17 minutes), verified by the data a day later (the lamp's
    # verify_s); the two folded tickets are not counted as cancelled; its urgent response
    # target (15 minutes from its opening at minute 3) was missed: resolved at minute 21
    client = admin(services)
    period = {"from": T.isoformat(), "to": (T + timedelta(days=3)).isoformat()}
    figures = client.get("/api/v1/figures/repairs", params={**period, "category": "lighting"})
    assert figures.status_code == 200, figures.text
    found = figures.json()
    assert (found["tickets"], found["cancelled"]) == (1, 0)
    assert (found["mttr"]["repairs"], found["mttr"]["verified"]) == (3, 3)
    assert found["mttr"]["mttr_s"] == 18 * 60
    assert found["mtbf"]["facilities_failed"] == 3
    assert [f["down_s"] for f in found["most_failing"]] == [19 * 60, 18 * 60, 17 * 60]
    assert (found["sla"]["respond"]["due"], found["sla"]["respond"]["met"]) == (1, 0)

    # a second zone outage later: a lamp failing within the reopen window starts a new count
    feed.send(after + timedelta(hours=1), (LIGHT, "lamp_failure", "light-01"))
    assert [t.scope for t in live_tickets(services)] == ["facility"]


def test_faults_a_rule_does_not_group_and_other_zones_get_tickets_of_their_own(
    services: Services,
) -> None:
    set_up(services, site(grouping={"lights-out": {**LIGHTS_OUT, "zone": "south"}}))
    feed = Feed(services)  # gw-1's lamps are in the north: the rule watches the south
    for n in (1, 2, 3):
        feed.send(T + timedelta(minutes=n), (LIGHT, "lamp_failure", f"light-0{n}"))
    assert sorted(t.scope for t in live_tickets(services)) == ["facility"] * 3


# ----------------------------------------------------------------------------- gateways


def test_a_gateway_gone_offline_gives_one_ticket_and_its_devices_are_unknown(
    services: Services,
) -> None:
    set_up(services, site(gateway_offline={"after": "2m", "skill": "access-control"}))
    feed = Feed(services)
    feed.status(T, online=True)
    feed.send(T, (GATE, "normal", "gate-01"), (GATE, "normal", "gate-02"))
    feed.status(T + timedelta(seconds=30), online=False)  # its last will

    services.rounds.run(services.sessions, T + timedelta(minutes=2))
    assert live_tickets(services) == []  # not yet: it may come straight back
    services.rounds.run(services.sessions, T + timedelta(minutes=3))
    (down,) = live_tickets(services)
    assert (down.scope, down.fault, down.gateway_id) == ("gateway", GATEWAY_OFFLINE, "gw-1")
    assert down.skill == "access-control" and down.priority == "high"
    services.health.sweep(services.sessions, T + timedelta(minutes=10))
    services.rounds.run(services.sessions, T + timedelta(minutes=10))
    assert [t.id for t in live_tickets(services)] == [down.id]  # no ticket per device
    with services.sessions() as session:
        assert all(d.faults == [] for d in session.scalars(select(Device)))

    client = admin(services)
    devices = client.get("/api/v1/devices", params={"gateway_id": "gw-1"}).json()
    assert {(d["status"], d["status_reason"]) for d in devices} == {("unknown", "gateway offline")}
    facilities = client.get("/api/v1/facilities").json()
    assert {f["status"] for f in facilities if f["code"].startswith("gate-")} == {"unknown"}
    listed = client.get("/api/v1/tickets").json()
    assert [(t["scope"], t["name"]) for t in listed] == [("gateway", "gw-1")]

    # it comes back; the maintainer resolves; its being up since verifies the repair
    back = T + timedelta(minutes=20)
    feed.status(back, online=True)
    services.rounds.run(services.sessions, back + timedelta(seconds=5))
    assert ticket(services, down.id).fault_cleared_at == back
    resolve(services, down.id, back + timedelta(minutes=1))
    until = ticket(services, down.id).verify_until
    assert until == back + timedelta(minutes=6)  # verify_for: 5 minutes by default
    feed.status(until - timedelta(seconds=30), online=True)
    services.rounds.run(services.sessions, until + timedelta(seconds=1))
    assert ticket(services, down.id).state == "closed"


def test_a_cut_cable_blames_the_gateway_not_its_devices(services: Services) -> None:
    """No last will arrives (the broker has not noticed yet): the gateway and its devices
    simply fall silent together. The devices' silence spans pass; still one ticket."""
    set_up(services, site())
    feed = Feed(services)
    feed.status(T, online=True)
    feed.send(T, (GATE, "normal", "gate-01"), (GATE, "normal", "gate-02"))
    for minutes in (1, 3, 5, 8):
        now = T + timedelta(minutes=minutes)
        services.health.sweep(services.sessions, now)
        services.rounds.run(services.sessions, now)
    (down,) = live_tickets(services)
    assert down.scope == "gateway"
    with services.sessions() as session:
        assert all(d.faults == [] for d in session.scalars(select(Device)))

    # the gateway is back and gate-02 with it; gate-01 stays silent: that one is gate-01's
    back = T + timedelta(minutes=9)
    feed.status(back, online=True)
    feed.send(back, (GATE, "normal", "gate-02"))
    services.rounds.run(services.sessions, back)
    services.health.sweep(services.sessions, back + timedelta(minutes=4))
    faulty = [t for t in live_tickets(services) if t.scope == "facility"]
    assert [t.fault for t in faulty] == ["offline"]
    assert ticket(services, down.id).fault_cleared_at == back


def test_a_gateway_down_again_during_verification_reopens_its_ticket(
    services: Services,
) -> None:
    set_up(services, site())
    feed = Feed(services)
    feed.status(T, online=True)
    services.rounds.run(services.sessions, T + timedelta(minutes=3))
    (down,) = live_tickets(services)
    feed.status(T + timedelta(minutes=4), online=True)
    services.rounds.run(services.sessions, T + timedelta(minutes=4))
    resolve(services, down.id, T + timedelta(minutes=5))
    # silent again before the verification is over
    services.rounds.run(services.sessions, T + timedelta(minutes=7))
    reopened = ticket(services, down.id)
    assert reopened.state in ("open", "assigned") and reopened.repeats == 1
    assert [t.id for t in live_tickets(services)] == [down.id]


def test_the_site_file_keeps_grouping_rules_and_the_gateway_rule(services: Services) -> None:
    from cloud.register.site_export import export_site

    set_up(services, site(grouping={"lights-out": LIGHTS_OUT}, gateway_offline={"after": "5m"}))
    with services.sessions() as session:
        exported = export_site(session, "tests")
    assert exported.grouping["lights-out"].at_least == 3
    assert exported.grouping["lights-out"].within == 300
    assert exported.gateway_offline.after == 300
    set_up(services, site())  # a file without them: the rule goes, the defaults return
    with services.sessions() as session:
        exported = export_site(session, "tests")
    assert exported.grouping == {} and exported.gateway_offline.after == 120
