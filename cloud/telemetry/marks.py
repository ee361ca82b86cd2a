"""Buckets due for rolling up, marked where their data changes.

Ingest knows which minutes a group's readings fall in — a few, however many readings — and
marks each in ``rollup_due`` with one bulk upsert, in the transaction that stores them; the
roll-up job (:mod:`cloud.telemetry.upkeep`) then rolls up exactly the minutes that changed,
readings arriving hours late included, and marks the hours they fall in. Each writer marks
rows of its own (``writer``: a token made when it starts), so that two workers marking the
same minute never wait for each other's transaction; a bucket marked again counts up
``marks``, so that the job removes a mark only if nothing marked it after the job read it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, literal_column
from sqlalchemy.dialects import postgresql, sqlite

from cloud.db.bulk import Bulk, Codec
from cloud.db.models import RollupDue

DUE = cast(Table, RollupDue.__table__)


class RollupMarks:
    """Marks buckets due for rolling up, as one writer."""

    def __init__(self, codec: Codec, writer: str | None = None) -> None:
        self.writer = writer or uuid.uuid4().hex[:16]
        dialect = codec.dialect
        insert: Any = (postgresql if dialect.name == "postgresql" else sqlite).insert(DUE)
        one: Any = literal_column("1")
        statement = insert.values(
            step=bindparam("step"), start=bindparam("start"), writer=bindparam("writer"), marks=one
        ).on_conflict_do_update(
            index_elements=["step", "start", "writer"], set_={"marks": DUE.c.marks + one}
        )
        self._mark: Bulk = codec.statement(statement, ("step", "start", "writer"))

    def mark(self, connection: Connection, step: int, starts: Iterable[int]) -> None:
        """Mark buckets of ``step`` seconds (their starts, in seconds since 1970) as due, in
        the caller's transaction."""
        writer = self.writer
        rows = [(step, start, writer) for start in sorted(set(starts))]
        if rows:
            self._mark.run(connection, rows)
