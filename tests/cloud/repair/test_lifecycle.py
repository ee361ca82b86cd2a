"""The ticket lifecycle as a state machine: every sequence of moves by every kind of actor
keeps its rules (hypothesis drives it)."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cloud.repair.lifecycle import (
    FINAL,
    Actor,
    Move,
    MoveRefused,
    State,
    moves_from,
    target,
)


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = State.OPEN
        self.observable = True
        self.closed_by: Actor | None = None
        self.reopened = 0
        self.assigned = False

    @rule(observable=st.booleans())
    def the_fault_is(self, observable: bool) -> None:
        if self.state is State.OPEN:
            self.observable = observable

    @rule(move=st.sampled_from(Move), actor=st.sampled_from(Actor))
    def try_a_move(self, move: Move, actor: Actor) -> None:
        before = self.state
        offered = move in moves_from(before, actor)
        try:
            after = target(move, before, actor, observable=self.observable, assigned=self.assigned)
        except MoveRefused as refused:
            assert not offered, f"{move} offered to {actor} from {before} but refused"
            assert str(refused)
            return
        assert offered, f"{move} by {actor} from {before} allowed but not offered"
        if actor is Actor.MAINTAINER:
            assert after not in FINAL, "a maintainer's word never closes or cancels a ticket"
            assert move not in (Move.ASSIGN, Move.CONFIRM, Move.VERIFY, Move.REOPEN)
        if move is Move.VERIFY:
            assert (actor, before) == (Actor.RULE, State.VERIFYING)
        if move is Move.RESOLVE:
            assert after is (State.VERIFYING if self.observable else State.RESOLVED)
        if move is Move.REOPEN:
            assert after is (State.ASSIGNED if self.assigned else State.OPEN)
            self.reopened += 1
        if move is Move.ASSIGN or (move is Move.ACKNOWLEDGE and actor is Actor.MAINTAINER):
            self.assigned = True  # a maintainer who acknowledges an open ticket takes it
        if before is State.CANCELLED:
            raise AssertionError(f"{move} moved a cancelled ticket")
        if before is State.CLOSED:
            assert move is Move.REOPEN, "a closed ticket only reopens"
        if after is State.CLOSED:
            self.closed_by = actor
        self.state = after

    @invariant()
    def closed_only_by_data_or_a_person_in_charge(self) -> None:
        if self.state is State.CLOSED:
            assert self.closed_by in (
                Actor.RULE,
                Actor.SUPERVISOR,
                Actor.PROPERTY_MANAGER,
                Actor.OPERATOR_ADMIN,
                Actor.TOKEN,
            )

    @invariant()
    def every_state_but_cancelled_has_a_way_on(self) -> None:
        ways = [m for actor in Actor for m in moves_from(self.state, actor)]
        assert bool(ways) is (self.state is not State.CANCELLED)


TestLifecycle = Lifecycle.TestCase


@pytest.mark.parametrize(
    ("observable", "path"),
    [
        (True, [State.ASSIGNED, State.ACKNOWLEDGED, State.IN_PROGRESS, State.VERIFYING]),
        (False, [State.ASSIGNED, State.ACKNOWLEDGED, State.IN_PROGRESS, State.RESOLVED]),
    ],
)
def test_the_usual_repair(observable: bool, path: list[State]) -> None:
    """Dispatch assigns, the maintainer acknowledges, starts and resolves; the data verifies
    an observable fault, a supervisor confirms one the data cannot see."""
    state = State.OPEN
    steps = [
        (Move.ASSIGN, Actor.RULE),
        (Move.ACKNOWLEDGE, Actor.MAINTAINER),
        (Move.START, Actor.MAINTAINER),
        (Move.RESOLVE, Actor.MAINTAINER),
    ]
    seen = []
    for move, actor in steps:
        state = target(move, state, actor, observable=observable)
        seen.append(state)
    assert seen == path
    closer = (Move.VERIFY, Actor.RULE) if observable else (Move.CONFIRM, Actor.SUPERVISOR)
    assert target(closer[0], state, closer[1], observable=observable) is State.CLOSED
    with pytest.raises(MoveRefused, match="maintainer may not confirm"):
        target(Move.CONFIRM, state, Actor.MAINTAINER, observable=observable)
