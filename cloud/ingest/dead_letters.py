"""Dead letters: messages ingest could not take, kept whole with the reason, to replay.

A dead letter keeps the topic and every byte of the payload, so that once its cause is
fixed (a cloud bug, a missing profile, a gateway that sent something malformed) an operator
can feed it through ingest again (``replay.py``, ``linli cloud dead-letters replay``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.models import DeadLetter
from cloud.metrics import CloudMetrics
from device_profiles.protocol import parse_up_topic

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class DeadLetters:
    """The ``dead_letters`` table."""

    def __init__(
        self, sessions: sessionmaker[Session], metrics: CloudMetrics, clock: Clock = utcnow
    ) -> None:
        self._sessions = sessions
        self._metrics = metrics
        self._clock = clock

    def record(self, topic: str, payload: bytes, reason: str, category: str) -> int:
        """Keep a message whole with the reason (committed on return) and count it; its id."""
        parsed = parse_up_topic(topic)
        gateway_id = parsed[0] if parsed is not None and len(parsed[0]) <= 64 else None
        letter = DeadLetter(
            at=self._clock(),
            topic=topic,
            gateway_id=gateway_id,
            category=category,
            reason=reason,
            payload=bytes(payload),
        )
        with self._sessions.begin() as session:
            session.add(letter)
            session.flush()
            letter_id = letter.id
        self._metrics.dead_letters.labels(reason=category).inc()
        log.warning("dead letter %d from %s (%s): %s", letter_id, topic, category, reason)
        return letter_id

    def get(self, letter_id: int) -> DeadLetter | None:
        with self._sessions() as session:
            return session.get(DeadLetter, letter_id)

    def listing(self, *, limit: int = 100, replayed: bool = False) -> list[DeadLetter]:
        """Newest first; with ``replayed`` those a replay took too, else only waiting ones."""
        query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
        if not replayed:
            query = query.where(DeadLetter.replayed_at.is_(None))
        with self._sessions() as session:
            return list(session.scalars(query))

    def waiting_ids(self) -> list[int]:
        """Every dead letter no replay has taken yet, oldest first."""
        query = select(DeadLetter.id).where(DeadLetter.replayed_at.is_(None))
        with self._sessions() as session:
            return list(session.scalars(query.order_by(DeadLetter.id)))

    def note_replay(self, letter_id: int, result: str, *, replayed: bool) -> None:
        """Remember what a replay did; ``replayed``: its content is in the database now."""
        with self._sessions.begin() as session:
            letter = session.get(DeadLetter, letter_id)
            if letter is not None:
                letter.replay_result = result
                if replayed:
                    letter.replayed_at = self._clock()
