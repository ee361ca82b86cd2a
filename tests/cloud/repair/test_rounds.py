"""The repair rounds on a small community, driven by an injected clock: dispatch by skill,
zone, duty and load; escalation along the chain in business hours; reminders; verification
by the facility's own data; a reported ticket and the sensor ticket of the same repair."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cloud.db.models import Device, Ticket
from cloud.repair.dispatch import Maintainer, Need
from cloud.repair.lifecycle import Actor, Move, State
from cloud.repair.tickets import REPORTED, By, InvalidTransition
from cloud.services import Services
from tests.cloud.helpers import move
from tests.cloud.repair.community import (
    FRIDAY_1630,
    GATE_FIXERS,
    SHANGHAI,
    assignee,
    community,
    events,
    fault,
    person,
    set_up,
    ticket,
)


@pytest.fixture
def team(sqlite_services: Services) -> Services:
    set_up(sqlite_services, community(**GATE_FIXERS))
    return sqlite_services


def test_dispatch_picks_the_qualified_maintainer_on_duty_with_least_work(team: Services) -> None:
    """Wang and Li both fix gates in the north, Sun only in the south, Zhao fixes pumps.
    Li's duty is office hours: on a Thursday morning both are on duty; the first ticket goes
    to the one listed first, the next to the other (least open work)."""
    thursday_9 = datetime(2025, 11, 27, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    first = fault(team, thursday_9)
    team.rounds.run(team.sessions, thursday_9)
    second = fault(team, thursday_9, "door_forced", seq=2)
    result = team.rounds.run(team.sessions, thursday_9 + timedelta(seconds=5))

    assert result.assigned == 1
    assert {assignee(team, first), assignee(team, second)} == {"wang", "li"}
    assigned = [e for e in events(team, first) if e.kind == "assigned"]
    assert assigned[0].actor_kind == "rule" and "access-control" in assigned[0].note
    assert ticket(team, first).state == State.ASSIGNED


def test_nobody_on_duty_leaves_the_ticket_open_until_someone_is(sqlite_services: Services) -> None:
    set_up(sqlite_services, community(li=GATE_FIXERS["li"]))
    saturday = datetime(2025, 11, 29, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
    ticket_id = fault(sqlite_services, saturday)

    sqlite_services.rounds.run(sqlite_services.sessions, saturday)
    assert ticket(sqlite_services, ticket_id).state == State.OPEN

    monday = datetime(2025, 12, 1, 8, 45, tzinfo=SHANGHAI).astimezone(UTC)
    sqlite_services.rounds.run(sqlite_services.sessions, monday)
    assert assignee(sqlite_services, ticket_id) == "li"


def test_a_missed_response_escalates_up_the_chain_in_business_hours(team: Services) -> None:
    """Opened Friday 16:30 with 4 business hours to respond: due Monday 11:30. Warned at
    three quarters (Monday 10:30), supervisors told when missed, property managers when it is
    missed by its length again (Monday 16:30 + …), reminded in between; acknowledging stops
    the response's escalation and starts the resolution's."""
    ticket_id = fault(team, FRIDAY_1630)
    team.rounds.run(team.sessions, FRIDAY_1630)
    opened = ticket(team, ticket_id)
    monday = datetime(2025, 12, 1, tzinfo=SHANGHAI)

    def local(hour: int, minute: int = 0) -> datetime:
        return (monday + timedelta(hours=hour, minutes=minute)).astimezone(UTC)

    assert opened.respond_by == local(11, 30)
    assert opened.resolve_by is not None and opened.resolve_by > local(11, 30)
    assert opened.wake_at == local(10, 30), "next look: the warning at three quarters"

    saturday = FRIDAY_1630 + timedelta(days=1)
    assert team.rounds.run(team.sessions, saturday).escalations == 0, "weekends do not count"
    assert team.rounds.run(team.sessions, local(10, 30)).escalations == 1
    assert team.rounds.run(team.sessions, local(11, 30)).escalations == 1
    after_breach = ticket(team, ticket_id)
    assert after_breach.respond_breached_at == local(11, 30)
    assert after_breach.escalation == 1
    # reminded every quarter of the target (an hour of business time) until acted on
    assert team.rounds.run(team.sessions, local(12, 30)).reminders == 1
    assert team.rounds.run(team.sessions, local(12, 45)).reminders == 0
    # missed by 4 more business hours: Monday 15:30
    assert team.rounds.run(team.sessions, local(15, 30)).escalations == 1
    assert ticket(team, ticket_id).escalation == 2

    told = {e.kind: e for e in events(team, ticket_id) if e.evidence and "to" in e.evidence}
    roles = {kind: {p["role"] for p in e.evidence["to"]} for kind, e in told.items()}  # type: ignore[index]
    assert roles["sla_warning"] == {"maintainer"}
    assert roles["sla_breached"] == {"maintainer", "supervisor"}
    assert roles["escalated"] == {"maintainer", "supervisor", "property_manager"}
    assert roles["reminded"] == {"maintainer", "supervisor"}

    maintainer = By(Actor.MAINTAINER, "them", "person", ticket(team, ticket_id).assignee_id)
    move(team, ticket_id, "acknowledge", 0, by=maintainer)  # (its time is a test's minute)
    team.rounds.run(team.sessions, local(16, 0))
    acknowledged = ticket(team, ticket_id)
    assert (acknowledged.state, acknowledged.sla_step) == (State.ACKNOWLEDGED, 0)
    assert acknowledged.wake_at is not None and acknowledged.wake_at > local(17, 30)


def test_verification_closes_only_on_data_since_the_repair(team: Services) -> None:
    thursday_9 = datetime(2025, 11, 27, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    ticket_id = fault(team, thursday_9)
    team.rounds.run(team.sessions, thursday_9)
    resolved_at = datetime.now(UTC)
    with team.sessions.begin() as session:
        team.tickets.move(
            session,
            ticket_id,
            Move.RESOLVE,
            By(Actor.SUPERVISOR, "chen", "person"),
            at=resolved_at,
        )
        session.get(Ticket, ticket_id).verify_s = 0  # type: ignore[union-attr]
    verifying = ticket(team, ticket_id)
    assert verifying.state == State.VERIFYING
    end = verifying.verify_until
    assert end is not None

    team.rounds.run(team.sessions, end)
    assert ticket(team, ticket_id).state == State.VERIFYING, "no data since the repair yet"

    fault(team, resolved_at + timedelta(seconds=1), "normal", seq=2)
    result = team.rounds.run(team.sessions, end + timedelta(minutes=2))
    assert result.verified == 1
    closed = ticket(team, ticket_id)
    assert closed.state == State.CLOSED
    assert closed.reopen_until is not None


def test_a_fault_the_data_still_shows_after_the_repair_goes_back_to_its_maintainer(
    team: Services,
) -> None:
    thursday_9 = datetime(2025, 11, 27, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    ticket_id = fault(team, thursday_9)
    team.rounds.run(team.sessions, thursday_9)
    first = assignee(team, ticket_id)
    assert first is not None
    repaired = datetime.now(UTC)
    with team.sessions.begin() as session:
        team.tickets.move(
            session,
            ticket_id,
            Move.RESOLVE,
            By(Actor.MAINTAINER, first, "person", person(team, first)),
            at=repaired,
        )

    fault(team, repaired + timedelta(seconds=30), seq=2)  # the gate's next reading

    reopened = ticket(team, ticket_id)
    assert (reopened.state, reopened.repeats, assignee(team, ticket_id)) == (
        State.ASSIGNED,
        1,
        first,
    )
    [event] = [e for e in events(team, ticket_id) if e.kind == "reopened"]
    assert event.evidence is not None and event.evidence["metrics"]["motor_current"] == 0.0
    assert event.actor_kind == "rule"


def test_a_sensor_alarm_joins_the_repair_of_what_was_reported(team: Services) -> None:
    """A supervisor opens a `reported` ticket for the gate and gives it to Sun; the gate's
    own alarm then opens its own ticket, linked to it and dispatched to Sun too."""
    thursday_9 = datetime(2025, 11, 27, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    fault(team, thursday_9, "normal")  # the gate and its facility exist
    supervisor = By(Actor.SUPERVISOR, "chen", "person", person(team, "chen"))
    with team.sessions.begin() as session:
        device = session.scalars(select(Device)).one()
        reported = team.tickets.open_by_hand(
            session,
            device.facility,  # type: ignore[arg-type]
            REPORTED,
            supervisor,
            at=thursday_9,
            title="The gate squeaks and stops half way",
        )
        reported_id = reported.id
    assert (ticket(team, reported_id).observable, ticket(team, reported_id).device_pk) == (
        False,
        None,
    )
    move(team, reported_id, "assign", 0, by=supervisor, assignee_id=person(team, "sun"))

    alarm = fault(team, thursday_9 + timedelta(minutes=1), seq=2)
    team.rounds.run(team.sessions, thursday_9 + timedelta(minutes=1))

    assert alarm != reported_id
    assert ticket(team, alarm).linked_id == reported_id
    assert assignee(team, alarm) == "sun"


def test_a_ticket_the_round_fails_on_does_not_hold_up_the_others(
    team: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    thursday_9 = datetime(2025, 11, 27, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    first = fault(team, thursday_9)
    second = fault(team, thursday_9, "door_forced", seq=2)
    fallback = team.rounds.policy

    class FailsOnce:
        """A policy with a bug that shows on the first ticket it is asked about."""

        failed = False

        def choose(self, need: Need, maintainers: Sequence[Maintainer]) -> Maintainer | None:
            if not self.failed:
                self.failed = True
                raise ValueError("a policy bug")
            return fallback.choose(need, maintainers)

    monkeypatch.setattr(team.rounds, "policy", FailsOnce())

    result = team.rounds.run(team.sessions, thursday_9)

    assert (result.looked_at, result.assigned) == (2, 1)
    failed = ticket(team, first)
    assert failed.state == State.OPEN and failed.wake_at is not None
    assert failed.wake_at > thursday_9 + timedelta(minutes=10), "put aside for a while"
    assert ticket(team, second).state == State.ASSIGNED


def test_a_ticket_given_to_another_maintainer_is_answered_anew(team: Services) -> None:
    """Wang acknowledged and is a day late with the repair; the supervisor gives it to Li.
    Li's response target counts from then (no instant escalation), the repair's own
    deadline stays where it was."""
    thursday_9 = datetime(2025, 11, 27, 9, 0, tzinfo=SHANGHAI).astimezone(UTC)
    ticket_id = fault(team, thursday_9)
    team.rounds.run(team.sessions, thursday_9)
    holder = assignee(team, ticket_id)
    other = "li" if holder == "wang" else "wang"
    move(
        team,
        ticket_id,
        "acknowledge",
        0,
        by=By(Actor.MAINTAINER, holder, "person", person(team, holder or "")),
    )
    resolve_by = ticket(team, ticket_id).resolve_by
    supervisor = By(Actor.SUPERVISOR, "chen", "person", person(team, "chen"))
    with pytest.raises(InvalidTransition, match="already"):
        move(team, ticket_id, "assign", 0, by=supervisor, assignee_id=person(team, holder or ""))
    friday_10 = datetime(2025, 11, 28, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
    with team.sessions.begin() as session:
        team.tickets.move(
            session,
            ticket_id,
            Move.ASSIGN,
            supervisor,
            at=friday_10,
            assignee_id=person(team, other),
        )

    result = team.rounds.run(team.sessions, friday_10)

    given = ticket(team, ticket_id)
    assert (given.state, assignee(team, ticket_id)) == (State.ASSIGNED, other)
    assert (given.acknowledged_at, given.started_at) == (None, None)
    assert given.respond_by == datetime(2025, 11, 28, 14, 0, tzinfo=SHANGHAI).astimezone(UTC)
    assert given.resolve_by == resolve_by
    assert result.escalations == 0


def test_a_ticket_nobody_answers_misses_the_repair_deadline_too(team: Services) -> None:
    """The repair's deadline runs from the opening, answered or not: a ticket still
    unanswered then has missed it as well, and the supervisors hear of it once — not again
    when it is answered late."""
    ticket_id = fault(team, FRIDAY_1630)
    team.rounds.run(team.sessions, FRIDAY_1630)
    resolve_by = ticket(team, ticket_id).resolve_by
    assert resolve_by is not None

    team.rounds.run(team.sessions, resolve_by - timedelta(minutes=1))
    waiting = ticket(team, ticket_id)
    assert waiting.resolve_breached_at is None and waiting.state == State.ASSIGNED
    assert waiting.wake_at is not None and waiting.wake_at <= resolve_by

    team.rounds.run(team.sessions, resolve_by)
    missed = ticket(team, ticket_id)
    assert missed.resolve_breached_at == resolve_by
    breaches = [e for e in events(team, ticket_id) if e.kind == "sla_breached"]
    assert [e.evidence["target"] for e in breaches] == ["respond", "resolve"]  # type: ignore[index]
    told = {p["role"] for p in breaches[1].evidence["to"]}  # type: ignore[index]
    assert told == {"maintainer", "supervisor"}

    maintainer = By(Actor.MAINTAINER, "them", "person", missed.assignee_id)
    move(team, ticket_id, "acknowledge", 0, by=maintainer)
    team.rounds.run(team.sessions, resolve_by + timedelta(minutes=5))
    late = [
        (e.kind, e.evidence["target"])  # type: ignore[index]
        for e in events(team, ticket_id)
        if e.kind in ("sla_warning", "sla_breached") and e.at > resolve_by
    ]
    assert late == [], "no warning of what was missed already, no second breach"
    assert ticket(team, ticket_id).resolve_breached_at == resolve_by
