"""The repair ticket's lifecycle: its states, what may move it, and who may.

    open ─assign→ assigned ─acknowledge→ acknowledged ─start→ in progress ⇄ on hold
                                                                   │
                                   resolve (a maintainer's word) ──┘
                                                                   ↓
          observable fault: verifying ─verify (the facility's own data)→ closed
          fault the data cannot see: resolved ─confirm (a supervisor)→ closed
          fault back within the reopen window: verifying/resolved/closed ─reopen→ assigned

Any state not final but ``verifying`` may be cancelled by a supervisor, a property manager or
an operator admin (or by a rule of Linli's: a ticket folded into a zone ticket);
``closed`` and ``cancelled`` are final, but a closed ticket reopens while its window lasts.
Every move names its actor: a person (by role), a rule of Linli's own (dispatch, verification,
escalation) or a resident's report. This module decides; the desk applies a move to the
database, guarded by the state it was decided from.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cloud.access.roles import Role
from cloud.db.tickets import TicketState

State = TicketState
"""The states a ticket is in (defined with the table, :class:`cloud.db.tickets.TicketState`)."""

FINAL = frozenset({State.CLOSED, State.CANCELLED})
UNDER_REPAIR = frozenset({State.ASSIGNED, State.ACKNOWLEDGED, State.IN_PROGRESS, State.ON_HOLD})


class Move(StrEnum):
    ASSIGN = "assign"
    ACKNOWLEDGE = "acknowledge"
    START = "start"
    HOLD = "hold"
    RESOLVE = "resolve"
    VERIFY = "verify"
    CONFIRM = "confirm"
    REOPEN = "reopen"
    CANCEL = "cancel"


class Actor(StrEnum):
    """Who moves a ticket, as the lifecycle tells them apart."""

    OPERATOR_ADMIN = Role.OPERATOR_ADMIN.value
    PROPERTY_MANAGER = Role.PROPERTY_MANAGER.value
    SUPERVISOR = Role.SUPERVISOR.value
    MAINTAINER = Role.MAINTAINER.value
    """the ticket's own maintainer (another maintainer may not move it)"""
    TOKEN = Role.TOKEN.value
    """an integration with ``tickets:write``"""
    RULE = "rule"
    """Linli itself: dispatch, verification by data, reopening on recurrence"""


_MANAGERS = frozenset({Actor.OPERATOR_ADMIN, Actor.PROPERTY_MANAGER, Actor.SUPERVISOR})
_PEOPLE = _MANAGERS | {Actor.TOKEN}
_WORKERS = _PEOPLE | {Actor.MAINTAINER}


@dataclass(frozen=True)
class Rule:
    """From which states a move goes, where to, and who may make it."""

    sources: frozenset[State]
    target: State | None
    """None: decided by the ticket (``resolve`` goes to verifying or resolved, ``reopen`` to
    its maintainer, or back to open when it has none)"""
    actors: frozenset[Actor]


RULES: dict[Move, Rule] = {
    Move.ASSIGN: Rule(
        frozenset({State.OPEN}) | UNDER_REPAIR, State.ASSIGNED, _PEOPLE | {Actor.RULE}
    ),
    Move.ACKNOWLEDGE: Rule(frozenset({State.OPEN, State.ASSIGNED}), State.ACKNOWLEDGED, _WORKERS),
    Move.START: Rule(
        frozenset({State.ASSIGNED, State.ACKNOWLEDGED, State.ON_HOLD}),
        State.IN_PROGRESS,
        _WORKERS,
    ),
    Move.HOLD: Rule(frozenset({State.ACKNOWLEDGED, State.IN_PROGRESS}), State.ON_HOLD, _WORKERS),
    Move.RESOLVE: Rule(frozenset({State.OPEN}) | UNDER_REPAIR, None, _WORKERS),
    Move.VERIFY: Rule(frozenset({State.VERIFYING}), State.CLOSED, frozenset({Actor.RULE})),
    Move.CONFIRM: Rule(frozenset({State.RESOLVED, State.VERIFYING}), State.CLOSED, _PEOPLE),
    Move.REOPEN: Rule(
        frozenset({State.RESOLVED, State.VERIFYING, State.CLOSED}),
        None,
        _PEOPLE | {Actor.RULE},
    ),
    Move.CANCEL: Rule(
        frozenset(State) - FINAL - {State.VERIFYING}, State.CANCELLED, _PEOPLE | {Actor.RULE}
    ),
}


class MoveRefused(Exception):
    """The move is not allowed: from this state, or for this actor. The message says why."""


def target(
    move: Move, state: State, actor: Actor, *, observable: bool, assigned: bool = True
) -> State:
    """Where ``move`` by ``actor`` takes a ticket in ``state``; :class:`MoveRefused` if it
    may not. ``observable``: whether the ticket's fault is one the facility's data shows
    (then resolving waits for verification by data, else for a supervisor's confirmation);
    ``assigned``: whether it has a maintainer (a reopened ticket goes back to them)."""
    rule = RULES[move]
    if actor not in rule.actors:
        if rule.actors == {Actor.RULE}:
            raise MoveRefused(f"only the facility's data may {move.value} a repair")
        who = actor.value.replace("_", " ")
        article = "an" if who[0] in "aeiou" else "a"
        raise MoveRefused(f"{article} {who} may not {move.value} a ticket")
    if state not in rule.sources:
        allowed = ", ".join(sorted(s.value for s in rule.sources))
        raise MoveRefused(f"cannot {move.value} a ticket that is {state.value}; only {allowed}")
    if rule.target is not None:
        return rule.target
    if move is Move.REOPEN:
        return State.ASSIGNED if assigned else State.OPEN
    return State.VERIFYING if observable else State.RESOLVED


def moves_from(state: State, actor: Actor) -> list[Move]:
    """The moves ``actor`` may make on a ticket in ``state`` (for buttons and the API)."""
    return [m for m, rule in RULES.items() if state in rule.sources and actor in rule.actors]
