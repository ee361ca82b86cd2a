"""Replaying dead letters: each stored payload goes through the same ingest path as a fresh
message (in process, no broker needed).

A dead letter that is now stored, or that finds its batch stored already, is marked replayed
(``replayed_at``); one rejected again stays waiting, with the new reason in
``replay_result``. Replaying is idempotent: batches and items are stored once whatever
happens, so a dead letter can be replayed again safely. No acknowledgement goes to the
gateway: it had its ``rejected`` one when the message became a dead letter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from cloud.ingest.dead_letters import DeadLetters
from cloud.ingest.failures import describe, is_temporary
from cloud.ingest.intake import Intake

ReplayResult = Literal["stored", "duplicate", "rejected", "unprovisioned", "missing", "failed"]


@dataclass(frozen=True)
class ReplayReport:
    letter_id: int
    result: ReplayResult
    detail: str
    """What happened, beginning with the result: ``stored: 3 readings, 0 stored before``."""

    @property
    def ok(self) -> bool:
        """Whether the dead letter's content is in the database now."""
        return self.result in ("stored", "duplicate")


def replay(letters: DeadLetters, intake: Intake, ids: Iterable[int]) -> Iterator[ReplayReport]:
    """Replay the dead letters ``ids``, in that order, reporting each as it is done."""
    for letter_id in ids:
        letter = letters.get(letter_id)
        if letter is None:
            yield ReplayReport(letter_id, "missing", "missing: no such dead letter")
            continue
        try:
            outcome = intake.process(letter.topic, letter.payload, keep_rejected=False)
        except Exception as exc:
            if is_temporary(exc):
                detail = f"failed: the database cannot take it now ({describe(exc)})"
            else:
                detail = f"failed: {describe(exc)}"
            yield ReplayReport(letter_id, "failed", detail)
            continue
        if outcome.result == "rejected":
            detail = f"rejected again: {outcome.reason}"
            letters.note_replay(letter_id, detail, replayed=False)
            yield ReplayReport(letter_id, "rejected", detail)
            continue
        if outcome.result == "unprovisioned":
            detail = outcome.describe()
            letters.note_replay(letter_id, detail, replayed=False)
            yield ReplayReport(letter_id, "unprovisioned", detail)
            continue
        letters.note_replay(letter_id, outcome.describe(), replayed=True)
        yield ReplayReport(letter_id, outcome.result, outcome.describe())
