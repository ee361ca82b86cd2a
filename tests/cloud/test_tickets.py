"""TicketDesk through the BatchWriter: faults become tickets, one per (facility, fault)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cloud.db.models import Device, Ticket, TicketEvent, TicketState
from cloud.ingest.writer import WriteResult
from cloud.repair.desk import TicketDesk
from cloud.repair.lifecycle import Move
from cloud.repair.tickets import InvalidTransition, TicketNotFound
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.catalogue import builtin_dir
from device_profiles.protocol import Batch
from tests.cloud.conftest import build_services
from tests.cloud.helpers import (
    ADMIN,
    BUTTON,
    GATE,
    LIGHT,
    at,
    batch,
    count,
    item,
    item_from_payload,
    move,
)


class Feed:
    """Writes single readings as consecutive batches of one gateway."""

    def __init__(self, services: Services, catalogue: Catalogue, gateway_id: str = "gw-1"):
        self.services = services
        self.catalogue = catalogue
        self.gateway_id = gateway_id
        self.seq = 0

    def send(self, profile_id: str, example_name: str, minute: float, **kw: str) -> WriteResult:
        self.seq += 1
        reading = item(self.catalogue, profile_id, example_name, ts=at(minute), **kw)
        return self.services.writer.write(batch(self.gateway_id, self.seq, [reading]))


@pytest.fixture
def feed(services: Services, catalogue: Catalogue) -> Feed:
    return Feed(services, catalogue)


def tickets(services: Services) -> list[Ticket]:
    with services.sessions() as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def events(services: Services, ticket_id: int) -> list[str]:
    with services.sessions() as session:
        query = select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id)
        return list(session.scalars(query.order_by(TicketEvent.id)))


def resolve(services: Services, ticket_id: int, minute: float) -> None:
    move(services, ticket_id, "resolve", minute, note="fixed")


def close_by_data(services: Services, ticket_id: int, minute: float) -> None:
    """The repair rounds at minute ``minute`` verify the resolved ticket by its data."""
    with services.sessions.begin() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.verify_until = ticket.wake_at = at(minute)  # its verify_s cut short
    services.rounds.run(services.sessions, at(minute))


@pytest.mark.parametrize(
    ("profile_id", "example_name", "fault", "title", "priority", "severity", "skill", "sla"),
    [
        (GATE, "motor_jammed", "motor_jammed", "Gate motor jammed", "high", "critical",
         "access-control", "standard"),  # fault priority overrides the template's "normal"
        (GATE, "door_forced", "door_forced", "Gate forced open", "normal", "minor",
         "access-control", "standard"),  # no fault priority: the template's
        (GATE, "motor_overcurrent", "motor_overcurrent", "Gate motor drawing too much current",
         "normal", "major", "access-control", "standard"),  # raised by a threshold rule
        (BUTTON, "help_requested", "help_requested", "Resident pressed the repair-alarm button",
         "urgent", "critical", "general-repair", "urgent"),
        (BUTTON, "battery_low", "battery_low", "Button battery low", "low", "minor",
         "general-repair", "urgent"),
        (LIGHT, "lamp_failure", "lamp_failure", "Lamp reports a failure", "normal",
         "major", "electrical", "standard"),
    ],
)  # fmt: skip
def test_fault_opens_one_ticket_from_the_profile(
    feed: Feed,
    services: Services,
    profile_id: str,
    example_name: str,
    fault: str,
    title: str,
    priority: str,
    severity: str,
    skill: str,
    sla: str,
) -> None:
    feed.send(profile_id, example_name, 0)

    [ticket] = tickets(services)
    assert ticket.fault == fault
    assert (ticket.title, ticket.priority, ticket.severity) == (title, priority, severity)
    assert (ticket.skill, ticket.sla) == (skill, sla)
    assert ticket.state == TicketState.OPEN
    assert ticket.occurrences == 1
    assert ticket.opened_at == ticket.last_seen_at == at(0)
    assert ticket.fault_cleared_at is None
    assert events(services, ticket.id) == ["opened"]
    with services.sessions() as session:
        device = session.get(Device, ticket.device_pk)
        assert device is not None
        assert ticket.facility_id == device.facility_id
    opened = services.metrics.registry.get_sample_value(
        "linli_tickets_opened_total", {"fault": fault}
    )
    assert opened == 1


def test_normal_readings_open_no_ticket(feed: Feed, services: Services) -> None:
    feed.send(GATE, "normal", 0)
    feed.send(LIGHT, "normal_on", 0)
    feed.send(LIGHT, "normal_off", 1)
    feed.send(BUTTON, "normal", 0)

    assert tickets(services) == []


def test_fault_that_stays_active_keeps_one_ticket(feed: Feed, services: Services) -> None:
    for minute in range(4):
        feed.send(GATE, "motor_jammed", minute)

    [ticket] = tickets(services)
    assert ticket.occurrences == 1
    assert ticket.last_seen_at == at(3)
    assert ticket.opened_at == at(0)
    assert events(services, ticket.id) == ["opened"]


def test_fault_that_returns_attaches_to_the_open_ticket(feed: Feed, services: Services) -> None:
    feed.send(GATE, "motor_jammed", 0)
    feed.send(GATE, "normal", 1)

    [ticket] = tickets(services)
    assert ticket.fault_cleared_at == at(1)
    assert ticket.state == TicketState.OPEN, "a cleared fault is verified and resolved by people"
    assert events(services, ticket.id) == ["opened", "fault_cleared"]

    feed.send(GATE, "motor_jammed", 2)

    [ticket] = tickets(services)
    assert ticket.occurrences == 2
    assert ticket.fault_cleared_at is None
    assert ticket.last_seen_at == at(2)
    assert events(services, ticket.id) == ["opened", "fault_cleared", "repeated"]

    feed.send(GATE, "normal", 3)
    feed.send(GATE, "motor_jammed", 4)
    [ticket] = tickets(services)
    assert ticket.occurrences == 3


def test_fault_back_during_verification_reopens_the_ticket_as_a_repeat(
    feed: Feed, services: Services
) -> None:
    """Resolved, the fault gone, then back before the repair was verified: the same ticket
    goes back to its maintainer, with the reading as evidence."""
    feed.send(GATE, "motor_jammed", 0)
    feed.send(GATE, "normal", 1)
    [first] = tickets(services)
    resolve(services, first.id, 2)
    assert tickets(services)[0].state == TicketState.VERIFYING

    feed.send(GATE, "motor_jammed", 3)

    [ticket] = tickets(services)
    assert ticket.id == first.id
    assert (ticket.state, ticket.repeats, ticket.occurrences) == (TicketState.OPEN, 1, 2)
    assert ticket.resolved_at is None and ticket.sla_since == at(3)
    assert events(services, ticket.id)[-3:] == ["resolved", "self_test", "reopened"]
    with services.sessions() as session:
        reopened = session.scalars(select(TicketEvent).where(TicketEvent.kind == "reopened")).one()
        assert reopened.actor_kind == "rule"
        assert reopened.evidence is not None
        assert reopened.evidence["metrics"]["motor_current"] == 0.0
        assert "during verification" in reopened.note


def test_fault_still_active_after_resolution_reopens_the_ticket(
    feed: Feed, services: Services
) -> None:
    """Resolved while the device still reports the fault: its next reading reopens it."""
    feed.send(GATE, "motor_jammed", 0)
    [first] = tickets(services)
    resolve(services, first.id, 1)

    feed.send(GATE, "motor_jammed", 2)

    [ticket] = tickets(services)
    assert (ticket.state, ticket.repeats) == (TicketState.OPEN, 1)


def repaired_and_verified(feed: Feed, services: Services) -> Ticket:
    """The gate jams at minute 0 and works again at 1; resolved at 2, it reports well at 3,
    and the data verifies the repair at 4: its ticket, closed."""
    feed.send(GATE, "motor_jammed", 0)
    feed.send(GATE, "normal", 1)
    [first] = tickets(services)
    resolve(services, first.id, 2)
    feed.send(GATE, "normal", 3)
    close_by_data(services, first.id, 4)
    return first


def test_fault_back_within_the_reopen_window_reopens_the_closed_ticket(
    feed: Feed, services: Services
) -> None:
    repaired_and_verified(feed, services)
    [closed] = tickets(services)
    assert closed.state == TicketState.CLOSED
    assert closed.reopen_until == at(4) + timedelta(days=7), "the shipped window: 7 days"

    feed.send(GATE, "motor_jammed", 60 * 24 * 6)  # six days later

    [ticket] = tickets(services)
    assert (ticket.state, ticket.repeats, ticket.closed_at) == (TicketState.OPEN, 1, None)
    assert events(services, ticket.id)[-2:] == ["verified", "reopened"]


def test_fault_back_after_the_reopen_window_opens_a_new_ticket(
    feed: Feed, services: Services
) -> None:
    first = repaired_and_verified(feed, services)

    feed.send(GATE, "motor_jammed", 60 * 24 * 8)  # eight days later

    old, new = tickets(services)
    assert (old.id, old.state, old.repeats) == (first.id, TicketState.CLOSED, 0)
    assert (new.state, new.occurrences, new.repeats) == (TicketState.OPEN, 1, 0)


def test_a_cancelled_ticket_is_not_reopened(feed: Feed, services: Services) -> None:
    feed.send(GATE, "motor_jammed", 0)
    [first] = tickets(services)
    move(services, first.id, "cancel", 1, note="opened by mistake")

    feed.send(GATE, "motor_jammed", 2)

    old, new = tickets(services)
    assert (old.state, new.state) == (TicketState.CANCELLED, TicketState.OPEN)


def test_two_faults_in_one_reading_open_two_tickets(
    services: Services, catalogue: Catalogue
) -> None:
    # SafeCall CSV: unix-time, battery, pressed, tamper — pressed and tampered at once.
    reading = item_from_payload(
        catalogue, BUTTON, "safecall/sos-09/evt", "1764201600,80,1,1", ts=at(0)
    )
    assert reading.faults == ("help_requested", "tampered")

    services.writer.write(batch("gw-1", 1, [reading]))

    found = {t.fault: t for t in tickets(services)}
    assert sorted(found) == ["help_requested", "tampered"]
    assert found["help_requested"].priority == "urgent"
    assert found["tampered"].priority == "high"  # template priority of the button
    assert found["help_requested"].facility_id == found["tampered"].facility_id


def test_same_fault_on_two_devices_opens_two_tickets(feed: Feed, services: Services) -> None:
    feed.send(GATE, "motor_jammed", 0)
    feed.send(GATE, "motor_jammed", 0, device_id="gate-77")

    assert len(tickets(services)) == 2


@pytest.fixture
def quiet_catalogue(tmp_path: Path) -> Catalogue:
    """A site profile like the Acme gate but whose door_forced fault opens no ticket."""
    text = (builtin_dir() / "acme_access_gate.yaml").read_text()
    text = text.replace("id: acme_access_gate", "id: quiet_gate")
    text = text.replace("acme/gate/", "quiet/gate/")
    marker = "    title: Gate forced open\n    severity: minor\n"
    assert marker in text
    text = text.replace(marker, marker + "    ticket: false\n")
    site = tmp_path / "profiles"
    site.mkdir()
    (site / "quiet_gate.yaml").write_text(text)
    catalogue = Catalogue.load([site])
    assert catalogue["quiet_gate"].faults["door_forced"].ticket is False
    return catalogue


@pytest.fixture
def quiet_services(tmp_path: Path, quiet_catalogue: Catalogue) -> Iterator[Services]:
    built = build_services(tmp_path / "quiet", quiet_catalogue, ingest=False)
    yield built
    built.close()


def test_fault_marked_ticket_false_opens_none(
    quiet_services: Services, quiet_catalogue: Catalogue
) -> None:
    feed = Feed(quiet_services, quiet_catalogue)
    feed.send("quiet_gate", "door_forced", 0)
    feed.send("quiet_gate", "normal", 1, device_id="gate-02")
    feed.send("quiet_gate", "door_forced", 2)

    assert tickets(quiet_services) == []
    with quiet_services.sessions() as session:
        device = session.scalars(select(Device).where(Device.device_id == "gate-02")).one()
        assert device.health == "degraded", "the fault still counts for health"
        assert device.faults == ["door_forced"]

    feed.send("quiet_gate", "motor_jammed", 3)  # a ticketed fault of the same profile
    assert [t.fault for t in tickets(quiet_services)] == ["motor_jammed"]


@pytest.mark.parametrize("registered_before", [True, False])
def test_concurrent_batches_with_same_fault_leave_one_ticket(
    services: Services, catalogue: Catalogue, registered_before: bool
) -> None:
    """Two ingest workers storing the same fault of the same device at the same moment."""
    rounds = 4
    seq = 0
    for n in range(rounds):
        device_id = f"gate-{n:02d}"
        if registered_before:
            seq += 1
            normal = item(catalogue, GATE, "normal", ts=at(0), device_id=device_id)
            services.writer.write(batch("gw-1", seq, [normal]))
        racing: list[Batch] = []
        for minute in (1, 2):
            seq += 1
            fault = item(catalogue, GATE, "motor_jammed", ts=at(minute), device_id=device_id)
            racing.append(batch("gw-1", seq, [fault]))
        barrier = threading.Barrier(2)

        def write(b: Batch, barrier: threading.Barrier = barrier) -> WriteResult:
            barrier.wait(timeout=10)
            return services.writer.write(b)

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(write, racing))

        assert [r.stored for r in results] == [1, 1]
    unresolved = [t for t in tickets(services) if t.state != TicketState.RESOLVED]
    assert len(unresolved) == rounds
    assert sorted(t.facility_id for t in unresolved) == sorted(
        {t.facility_id for t in unresolved}
    ), "at most one unresolved ticket per facility and fault"
    assert count(services.sessions, Device) == rounds


def test_report_recovers_when_another_worker_opened_the_ticket_first(
    feed: Feed, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check misses a ticket committed meanwhile: the unique index rejects the second
    insert and the reading attaches to the existing ticket instead."""
    feed.send(GATE, "motor_jammed", 0)
    feed.send(GATE, "normal", 1)
    [existing] = tickets(services)
    real = TicketDesk.live
    calls = 0

    def blind_once(session, facility_id, fault):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return None if calls == 1 else real(session, facility_id, fault)

    monkeypatch.setattr(TicketDesk, "live", staticmethod(blind_once))

    feed.send(GATE, "motor_jammed", 2)

    assert calls >= 2
    [ticket] = tickets(services)
    assert ticket.id == existing.id
    assert ticket.occurrences == 2
    assert ticket.fault_cleared_at is None


def test_unique_index_rejects_a_second_unresolved_ticket(feed: Feed, services: Services) -> None:
    feed.send(GATE, "motor_jammed", 0)
    [ticket] = tickets(services)

    def copy(state: str) -> Ticket:
        return Ticket(
            facility_id=ticket.facility_id,
            device_pk=ticket.device_pk,
            fault=ticket.fault,
            title=ticket.title,
            severity=ticket.severity,
            priority=ticket.priority,
            skill=ticket.skill,
            sla=ticket.sla,
            state=state,
            occurrences=1,
            opened_at=at(1),
            last_seen_at=at(1),
        )

    live = set(TicketState) - {TicketState.CLOSED, TicketState.CANCELLED}
    for state in sorted(live):
        with pytest.raises(IntegrityError), services.sessions.begin() as session:
            session.add(copy(state.value))
    # Closed and cancelled tickets are history: any number may sit beside the live one.
    with services.sessions.begin() as session:
        session.add_all(copy(s.value) for s in (TicketState.CLOSED, TicketState.CANCELLED) * 2)
    assert count(services.sessions, Ticket) == 5


def test_moves_follow_the_lifecycle(feed: Feed, services: Services) -> None:
    feed.send(GATE, "motor_jammed", 0)
    feed.send(LIGHT, "lamp_failure", 0)  # a lamp has no self-test
    gate, lamp = tickets(services)

    assert move(services, gate.id, "acknowledge", 1) == TicketState.ACKNOWLEDGED
    with pytest.raises(InvalidTransition, match="acknowledged"):
        move(services, gate.id, "acknowledge", 2)
    assert move(services, gate.id, "start", 2) == TicketState.IN_PROGRESS
    with pytest.raises(InvalidTransition, match="note"):
        move(services, gate.id, "hold", 2, note=" ")
    assert move(services, gate.id, "hold", 2, note="waiting for a motor") == TicketState.ON_HOLD
    assert move(services, gate.id, "start", 3) == TicketState.IN_PROGRESS
    assert move(services, gate.id, "resolve", 3) == TicketState.VERIFYING
    assert move(services, lamp.id, "resolve", 3) == TicketState.VERIFYING  # from open
    for action in ("acknowledge", "resolve", "cancel"):
        with pytest.raises(InvalidTransition, match="verifying"):
            move(services, gate.id, action, 4)
    with pytest.raises(InvalidTransition, match="data"):
        move(services, gate.id, "verify", 4)  # only the data verifies
    with pytest.raises(TicketNotFound):
        move(services, 999, "resolve", 4)

    gate, lamp = tickets(services)
    assert (gate.resolved_at, gate.verify_until) == (at(3), at(3) + timedelta(seconds=3600))
    assert gate.started_at == at(2), "started when work first began"
    assert events(services, gate.id) == [
        "opened",
        "acknowledged",
        "started",
        "held",
        "started",
        "resolved",
        "self_test",
    ]
    assert events(services, lamp.id) == ["opened", "resolved"], "no self-test to ask for"


def test_two_resolves_at_once_resolve_once_and_the_second_is_refused(
    postgres_services: Services, catalogue: Catalogue
) -> None:
    services = postgres_services
    Feed(services, catalogue).send(GATE, "motor_jammed", 0)
    (gate,) = tickets(services)
    second: list[BaseException | None] = []

    def resolve_meanwhile() -> None:
        try:
            resolve(services, gate.id, 2)
        except BaseException as exc:  # handed to the test
            second.append(exc)
        else:
            second.append(None)

    with services.sessions.begin() as first:
        services.tickets.move(first, gate.id, Move.RESOLVE, ADMIN, note="a", at=at(1))
        other = threading.Thread(target=resolve_meanwhile)
        other.start()
        other.join(timeout=1.0)
        assert other.is_alive()  # waiting for the first's row lock
    other.join(timeout=10)

    assert len(second) == 1 and isinstance(second[0], InvalidTransition)
    assert "now verifying" in str(second[0])
    assert events(services, gate.id) == ["opened", "resolved", "self_test"]
    (gate,) = tickets(services)
    assert gate.resolved_at == at(1)
