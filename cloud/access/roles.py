"""Roles, token scopes, and the :class:`Principal` every request acts as.

| role | scope | may |
|---|---|---|
| operator admin | every community | everything |
| property manager | one community | read; act on tickets; edit the register |
| supervisor | one community | read; act on tickets |
| maintainer | own zones | read their zones' facilities, devices, tickets; act on those tickets |

An integration token has scopes instead — ``register:read``, ``register:write``,
``tickets:read``, ``tickets:write``, ``telemetry:read`` — within one community or, made by
an operator admin without one, every community.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OPERATOR_ADMIN = "operator_admin"
    PROPERTY_MANAGER = "property_manager"
    SUPERVISOR = "supervisor"
    MAINTAINER = "maintainer"
    TOKEN = "token"


class Action(StrEnum):
    """What a request does, as permissions name it."""

    READ_REGISTER = "register:read"
    WRITE_REGISTER = "register:write"
    READ_TICKETS = "tickets:read"
    ACT_ON_TICKETS = "tickets:write"
    READ_TELEMETRY = "telemetry:read"
    OPERATE = "operator"
    """the operator's own: dead letters, every gateway, accounts of other communities"""


SCOPES = frozenset(a.value for a in Action if a is not Action.OPERATE)
"""The scopes a token may carry."""

_READS = {Action.READ_REGISTER, Action.READ_TICKETS, Action.READ_TELEMETRY}
ALLOWED: dict[Role, frozenset[Action]] = {
    Role.OPERATOR_ADMIN: frozenset(Action),
    Role.PROPERTY_MANAGER: frozenset(_READS | {Action.ACT_ON_TICKETS, Action.WRITE_REGISTER}),
    Role.SUPERVISOR: frozenset(_READS | {Action.ACT_ON_TICKETS}),
    Role.MAINTAINER: frozenset(_READS | {Action.ACT_ON_TICKETS}),
}


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: an account (by web session or by role) or a token."""

    name: str
    role: Role
    community_id: int | None
    """None: every community (operator admins, operator tokens)."""
    account_id: int | None = None
    token_id: int | None = None
    scopes: frozenset[str] = frozenset()
    csrf_token: str | None = None
    """Set when authenticated by a session cookie: unsafe requests must echo it."""
    zone_ids: frozenset[int] | None = None
    """The zones a maintainer works in: they reach only the facilities there, with their
    devices and tickets. None: no such limit."""
    person_id: int | None = None
    """The person of the community the account is (a maintainer's tickets are theirs)."""

    def may(self, action: Action) -> bool:
        if self.role is Role.TOKEN:
            wanted = action.value
            write = wanted.replace(":read", ":write")
            return wanted in self.scopes or write in self.scopes
        return action in ALLOWED[self.role]

    def sees(self, community_id: int | None) -> bool:
        """Whether rows of ``community_id`` are this principal's to see (rows of no
        community — gateways not provisioned — are the operator's)."""
        return self.community_id is None or community_id == self.community_id

    def reaches(self, community_id: int | None, zone_id: int | None) -> bool:
        """Whether a facility (or its device or ticket) of ``community_id`` in ``zone_id``
        is this principal's to see and act on."""
        return self.sees(community_id) and (self.zone_ids is None or zone_id in self.zone_ids)

    @property
    def actor(self) -> str:
        """How ticket events name who acted."""
        return f"token:{self.name}" if self.role is Role.TOKEN else self.name
