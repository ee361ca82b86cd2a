"""The desk keeps the lifecycle in the database: hypothesis makes every kind of actor try
every move on real tickets, and each move is made exactly when the lifecycle and the
ticket's assignee allow it — recorded with its actor — and refused otherwise, leaving the
ticket as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from sqlalchemy import func, select, update

from cloud.db.models import Facility, Ticket, TicketEvent
from cloud.repair.lifecycle import FINAL, Actor, Move, MoveRefused, State, target
from cloud.repair.tickets import DONE, REPORTED, By, InvalidTransition, not_theirs
from cloud.services import Services
from tests.cloud.repair.community import GATE_FIXERS, community, fault, person, set_up


def test_every_move_by_everyone_keeps_the_lifecycle(sqlite_services: Services) -> None:
    services = sqlite_services
    set_up(services, community(**GATE_FIXERS))
    start = datetime(2025, 11, 27, 1, 0, tzinfo=UTC)
    fault(services, start, "normal")  # the gate and its facility
    with services.sessions() as session:
        facility_id = session.scalars(select(Facility.id)).one()
    wang, li = person(services, "wang"), person(services, "li")
    who = {
        "supervisor": By(Actor.SUPERVISOR, "chen", "person", person(services, "chen")),
        "manager": By(Actor.PROPERTY_MANAGER, "zhang", "person", person(services, "zhang")),
        "admin": By(Actor.OPERATOR_ADMIN, "admin", "person"),
        "token": By(Actor.TOKEN, "token:bms", "token"),
        "wang": By(Actor.MAINTAINER, "wang", "person", wang),
        "li": By(Actor.MAINTAINER, "li", "person", li),
        "rule": By(Actor.RULE),
    }

    class DeskMoves(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.ticket_id = 0
            self.clock = start

        @initialize(observable=st.booleans())
        def open_a_ticket(self, observable: bool) -> None:
            with services.sessions.begin() as session:  # the last example's ticket is history
                session.execute(
                    update(Ticket)
                    .where(Ticket.state.not_in([s.value for s in FINAL]))
                    .values(state=State.CANCELLED.value)
                )
                ticket = services.tickets.open_by_hand(
                    session,
                    session.get(Facility, facility_id),  # type: ignore[arg-type]
                    "motor_jammed" if observable else REPORTED,
                    who["supervisor"],
                    at=self.clock,
                )
                self.ticket_id = ticket.id
                assert ticket.observable is observable

        @rule(
            move=st.sampled_from(Move),
            name=st.sampled_from(sorted(who)),
            assignee=st.sampled_from(["wang", "li"]),
        )
        def try_a_move(self, move: Move, name: str, assignee: str) -> None:
            by = who[name]
            self.clock += timedelta(minutes=1)
            with services.sessions() as session:
                before = session.get(Ticket, self.ticket_id)
                assert before is not None
                state, holder = State(before.state), before.assignee_id
                observable = before.observable
                events = session.scalar(
                    select(func.count()).where(TicketEvent.ticket_id == self.ticket_id)
                )
            new_holder = {"wang": wang, "li": li}[assignee] if move is Move.ASSIGN else holder
            if by.actor is Actor.MAINTAINER and holder is None and move is Move.ACKNOWLEDGE:
                new_holder = by.person_id
            expected: State | None
            try:
                expected = target(
                    move, state, by.actor, observable=observable, assigned=new_holder is not None
                )
            except MoveRefused:
                expected = None
            if not_theirs(by, holder, move) is not None:
                expected = None
            if move is Move.ASSIGN and new_holder == holder:
                expected = None  # assigned to them already
            note = "" if move is Move.HOLD and name == "token" else "because"
            if move in (Move.HOLD, Move.CANCEL, Move.REOPEN) and not note:
                expected = None
            try:
                with services.sessions.begin() as session:
                    services.tickets.move(
                        session,
                        self.ticket_id,
                        move,
                        by,
                        at=self.clock,
                        note=note,
                        assignee_id=new_holder if move is Move.ASSIGN else None,
                    )
            except InvalidTransition as refused:
                assert expected is None, f"{move} by {name} from {state} refused: {refused}"
                with services.sessions() as session:
                    after = session.get(Ticket, self.ticket_id)
                    assert after is not None and after.state == state.value
                    assert events == session.scalar(
                        select(func.count()).where(TicketEvent.ticket_id == self.ticket_id)
                    ), "a refused move leaves no trace"
                return
            assert expected is not None, f"{move} by {name} from {state} was made"
            with services.sessions() as session:
                after = session.get(Ticket, self.ticket_id)
                assert after is not None
                assert after.state == expected.value
                assert after.assignee_id == new_holder
                last = session.scalars(
                    select(TicketEvent)
                    .where(TicketEvent.ticket_id == self.ticket_id, TicketEvent.kind == DONE[move])
                    .order_by(TicketEvent.id.desc())
                ).first()
                assert last is not None
                assert (last.actor, last.actor_kind, last.at) == (by.name, by.kind, self.clock)
                if expected is State.CLOSED:
                    assert after.reopen_until is not None

    run_state_machine_as_test(
        DeskMoves,
        settings=settings(
            max_examples=40,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
