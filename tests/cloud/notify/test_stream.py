"""The live stream's cursor on SQLite and PostgreSQL: notices in id order, of the caller's
reach; an id skipped because its transaction had not committed yet is sent when it comes,
and given up after a while if it never does (its transaction rolled back)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from cloud.db.notices import Notice
from cloud.notify.stream import HOLD_S, Cursor, Reach, latest
from cloud.repair.lifecycle import Actor, Move
from cloud.repair.tickets import By
from cloud.services import Services
from tests.cloud.repair.community import FRIDAY_1630, fault


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def three_notices(services: Services, oak: dict[str, int]) -> list[int]:
    """Opened, assigned, acknowledged: their notice ids."""
    ticket_id = fault(services, FRIDAY_1630)
    services.rounds.run(services.sessions, FRIDAY_1630)
    wang = By(Actor.MAINTAINER, "wang", "person", oak["wang"])
    with services.sessions.begin() as session:
        services.tickets.move(session, ticket_id, Move.ACKNOWLEDGE, wang, at=FRIDAY_1630)
    with services.sessions() as session:
        return list(session.scalars(select(Notice.id).order_by(Notice.id)))


def read(services: Services, cursor: Cursor, reach: Reach) -> list[tuple[int, str]]:
    with services.sessions() as session:
        return [(body["id"], body["kind"]) for body in cursor.read(session, reach)]


def test_a_skipped_id_is_sent_when_its_transaction_commits(
    services: Services, oak: dict[str, int]
) -> None:
    first, second, third = three_notices(services, oak)
    with services.sessions.begin() as session:  # as if its transaction had not committed
        row = session.get(Notice, second)
        assert row is not None
        kept: dict[str, Any] = {c.key: getattr(row, c.key) for c in Notice.__table__.columns}
        session.execute(delete(Notice).where(Notice.id == second))
    ticks = Ticks()
    cursor = Cursor(first - 1, ticks)
    everyone = Reach(None)

    assert read(services, cursor, everyone) == [(first, "opened"), (third, "acknowledged")]
    assert cursor.held == [second] and cursor.after == third
    assert read(services, cursor, everyone) == []

    with services.sessions.begin() as session:  # it commits now
        session.add(Notice(**kept))
    ticks.now += HOLD_S / 2
    assert read(services, cursor, everyone) == [(second, "assigned")]
    assert cursor.held == []


def test_a_skipped_id_that_never_comes_is_given_up(services: Services, oak: dict[str, int]) -> None:
    first, second, third = three_notices(services, oak)
    with services.sessions.begin() as session:
        session.execute(delete(Notice).where(Notice.id == second))  # rolled back: never comes
    ticks = Ticks()
    cursor = Cursor(first - 1, ticks)
    assert len(read(services, cursor, Reach(None))) == 2
    ticks.now += HOLD_S
    assert read(services, cursor, Reach(None)) == []
    assert cursor.held == []
    with services.sessions() as session:
        assert latest(session) == third


def test_a_cursor_carries_only_what_its_reach_sees(services: Services, oak: dict[str, int]) -> None:
    first, _, _ = three_notices(services, oak)
    with services.sessions() as session:
        community = session.scalars(select(Notice.community_id)).first()
    assert community is not None
    elsewhere = Cursor(first - 1)
    assert read(services, elsewhere, Reach(community + 1)) == []
    assert elsewhere.after > first, "it moved past what it does not see"
    lis = Reach(community, frozenset(), person_id=oak["li"])
    assert read(services, Cursor(first - 1), lis) == []
    wangs = Reach(community, frozenset(), person_id=oak["wang"])
    assert [kind for _, kind in read(services, Cursor(first - 1), wangs)] == [
        "assigned",
        "acknowledged",
    ]
