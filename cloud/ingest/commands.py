"""Commands for devices, from the ``outbound_commands`` table to their gateways.

A command is written as a row in the transaction that decided it (a repair's self-test:
:meth:`cloud.repair.moves.TicketMoves._self_test`); ingest workers send it afterwards
(:class:`~cloud.ingest.worker.IngestWorker`, every ``command_check_s``). Each round
(:meth:`CommandOutbox.claim`) takes the oldest rows not sent yet, turns each into its
gateway's ``down/command`` topic and a :class:`~device_profiles.protocol.Command`; once the
broker has them all (the worker publishes them), :meth:`Claim.mark_sent` sets their
``sent_at`` in the same transaction.

Delivery is **at least once**: should the worker die, or the database fail, between the
publish and the mark, the next round sends the command again — with the same ``id``, so that
the edge and the device can tell the repeat (``edge_agent.commands``). On PostgreSQL the
rows are read ``FOR UPDATE SKIP LOCKED`` and stay locked until they are marked, so workers
sharing the database never take the same rows at once; SQLite has no row locks (one writer at
a time; several workers on one SQLite file could each send a row once).

Rows for a gateway that was retired, or never provisioned, are sent like any other: nobody
listens on its topic any more, which is harmless, and the row does not wait forever. A row
that cannot make a valid command (an id outside 8-64 characters, say) is logged, never sent,
and marked all the same, so that it does not block the rows behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cloud.db.models import OutboundCommand
from device_profiles.protocol import Command, command_topic

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Claim:
    """The rows one round took: their messages to publish, their transaction still open
    (on PostgreSQL, their locks held) until :meth:`mark_sent` or :meth:`close`."""

    def __init__(
        self,
        session: Session | None,
        ids: list[str],
        messages: list[tuple[str, bytes]],
        clock: Clock,
        *,
        full: bool,
    ) -> None:
        self._session = session
        self.ids = ids
        """every row taken, the unusable ones too"""
        self.messages = messages
        """``(topic, payload)`` of each command to publish, oldest first"""
        self.full = full
        """as many rows as a round takes: more may wait"""
        self._clock = clock

    def mark_sent(self) -> int:
        """Set ``sent_at`` on the rows taken (call once the broker has their messages) and
        commit; how many rows this marked."""
        session = self._session
        if session is None or not self.ids:
            return 0
        result = session.execute(
            update(OutboundCommand)
            .where(OutboundCommand.id.in_(self.ids), OutboundCommand.sent_at.is_(None))
            .values(sent_at=self._clock())
            .execution_options(synchronize_session=False)
        )
        session.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]

    def close(self) -> None:
        """End the transaction (rolling back what was not committed: rows not marked stay
        unsent, and are taken again next round)."""
        if self._session is not None:
            self._session.close()
            self._session = None


class CommandOutbox:
    """The ``outbound_commands`` table, read by the ingest workers that send its rows."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock = utcnow, *, round_size: int = 100
    ) -> None:
        if round_size < 1:
            raise ValueError(f"round_size must be at least 1, got {round_size}")
        self._sessions = sessions
        self._clock = clock
        self._round_size = round_size
        self._lock_rows = sessions.kw["bind"].dialect.name == "postgresql"

    def claim(self) -> Claim:
        """The oldest rows not sent yet, at most ``round_size``; on PostgreSQL locked (rows
        another worker holds are skipped). Close the claim whatever happens."""
        table = OutboundCommand
        query = (
            select(table.id, table.gateway_id, table.device_id, table.command, table.args)
            .where(table.sent_at.is_(None))
            .order_by(table.created_at, table.id)
            .limit(self._round_size)
        )
        if self._lock_rows:
            query = query.with_for_update(skip_locked=True)
        session = self._sessions()
        try:
            rows = session.execute(query).all()
        except BaseException:
            session.close()
            raise
        if not rows:
            session.close()
            return Claim(None, [], [], self._clock, full=False)
        ids, messages = [], []
        for command_id, gateway_id, device_id, command, args in rows:
            ids.append(command_id)
            try:
                wire = Command(id=command_id, device_id=device_id, command=command, args=args)
            except ValidationError as exc:
                log.error(
                    "command %s for %s on gateway %s is not a valid command; not sent, "
                    "marked so that it does not block the others: %s",
                    command_id,
                    device_id,
                    gateway_id,
                    exc,
                )
                continue
            messages.append((command_topic(gateway_id), wire.model_dump_json().encode()))
        return Claim(session, ids, messages, self._clock, full=len(rows) >= self._round_size)
