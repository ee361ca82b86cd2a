"""The live event stream: the notices written after a point, in the order they were
written, as server-sent events, for whoever may see their tickets.

A stream reads the ``notices`` table by id. Ids are given out when a row is written but the
row is seen only when its transaction commits, and two transactions may commit in the other
order: a stream that read id 12 may find id 11 a moment later. So a stream keeps the ids it
skipped and looks for them again, for :data:`HOLD_S` seconds (an id whose transaction rolled
back never comes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cloud.db.notices import Notice
from cloud.notify.bodies import describe

HOLD_S = 30.0
"""How long a stream looks for an id it skipped (its transaction not yet committed)."""
MAX_HELD = 10_000
PAGE = 200


@dataclass(frozen=True)
class Reach:
    """Whose ticket events a stream carries: a community's (None: every community's),
    within some zones (a maintainer's), and those of the tickets of one person."""

    community_id: int | None
    zones: frozenset[int] | None = None
    person_id: int | None = None

    def sees(self, community_id: int | None, zone_id: int | None, assignee_id: int | None) -> bool:
        if self.community_id is not None and community_id != self.community_id:
            return False
        if self.zones is None:
            return True
        return zone_id in self.zones or (
            self.person_id is not None and assignee_id == self.person_id
        )


def latest(session: Session) -> int:
    """The id of the last notice written (0 for none): a new stream starts after it."""
    return session.scalar(select(func.max(Notice.id))) or 0


class Cursor:
    """Where a stream is: after ``after``, with the skipped ids it still looks for."""

    def __init__(self, after: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.after = after
        self._held: dict[int, float] = {}
        self._clock = clock

    @property
    def held(self) -> list[int]:
        return sorted(self._held)

    def read(self, session: Session, reach: Reach) -> list[dict[str, Any]]:
        """The bodies of the notices ``reach`` sees written since the last read, in id
        order; the cursor moves past them."""
        now = self._clock()
        self._held = {i: since for i, since in self._held.items() if now - since < HOLD_S}
        wanted = Notice.id > self.after
        if self._held:
            wanted = or_(wanted, Notice.id.in_(sorted(self._held)))
        rows = session.execute(
            select(Notice.id, Notice.community_id, Notice.zone_id, Notice.assignee_id)
            .where(wanted)
            .order_by(Notice.id)
            .limit(PAGE)
        ).all()
        seen: list[int] = []
        for notice_id, community_id, zone_id, assignee_id in rows:
            if notice_id in self._held:
                del self._held[notice_id]
            elif notice_id > self.after:
                for skipped in range(self.after + 1, min(notice_id, self.after + MAX_HELD)):
                    if len(self._held) < MAX_HELD:
                        self._held[skipped] = now
                self.after = notice_id
            if reach.sees(community_id, zone_id, assignee_id):
                seen.append(notice_id)
        if not seen:
            return []
        notices = session.scalars(select(Notice).where(Notice.id.in_(seen))).all()
        bodies = describe(session, notices)
        return [bodies[i] for i in seen]


def frame(body: dict[str, Any]) -> str:
    """A notice as one server-sent event: its id (to resume from), kind and JSON body."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return f"id: {body['id']}\nevent: {body['kind']}\ndata: {data}\n\n"


def frames(bodies: Sequence[dict[str, Any]]) -> str:
    return "".join(frame(body) for body in bodies)


HEARTBEAT = ": keep-alive\n\n"
"""A comment: clients ignore it; proxies see the connection is in use."""
