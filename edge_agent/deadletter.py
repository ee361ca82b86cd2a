"""The dead-letter log: messages the agent could not use, kept for a human to look at.

An append-only JSON Lines file, one record per message::

    {"ts": "...", "topic": "...", "category": "decode", "reason": "...",
     "payload": "...", "payload_bytes": 57, "truncated": false}

The payload is kept as simulator recordings keep it (:mod:`plumbing.payloads`): ``payload``
with its text when it is UTF-8, else ``payload_b64`` with base64. It is cut at
:data:`MAX_PAYLOAD_BYTES` (``truncated``; ``payload_bytes`` is the original size).
When the file would grow past its size limit it is renamed to ``<name>.1`` (replacing an
older one) and a new file is started, so the log never takes more than twice the limit.

Records are written by a worker thread of the log's own, so that a slow or stuck disk never
holds up the event loop: :meth:`DeadLetters.record` counts a record and hands it over at
once. At most :data:`MAX_PENDING` records wait to be written; past that, a record is still
counted but not written (``unwritten`` says how many).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plumbing.payloads import payload_fields

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 4096
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_PENDING = 1000
"""Records handed to the writer and not yet written, at most."""
_LOUD_FIRST = 10
_LOUD_EVERY = 100


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DeadLetters:
    """Writes dead-letter records and counts them by category and in total.

    Writing never raises: if the file cannot be written the failure is logged and the
    record is still counted. :meth:`flush` waits until what was recorded is written;
    :meth:`close` then ends the writer.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._clock = clock
        self._size: int | None = None
        self._by_category: dict[str, int] = {}
        self._total = 0
        self._writer: ThreadPoolExecutor | None = None  # started with the first record
        self._pending = 0
        self._pending_lock = threading.Lock()
        self.unwritten = 0
        """Records counted but not written: too many were waiting for the disk."""

    @property
    def total(self) -> int:
        return self._total

    @property
    def by_category(self) -> dict[str, int]:
        """Records per category since start (a copy)."""
        return dict(self._by_category)

    @property
    def rotated_path(self) -> Path:
        return self.path.with_name(self.path.name + ".1")

    def record(self, *, topic: str, payload: bytes, category: str, reason: str) -> None:
        """Append one record, count it, and log a warning (throttled per category)."""
        count = self._by_category.get(category, 0) + 1
        self._by_category[category] = count
        self._total += 1
        if count <= _LOUD_FIRST or count % _LOUD_EVERY == 0:
            suffix = "" if count <= _LOUD_FIRST else f" ({count} {category} dead letters so far)"
            log.warning("dead letter [%s] on %s: %s%s", category, topic, reason, suffix)
        line = json.dumps(self._entry(topic, payload, category, reason), ensure_ascii=False)
        with self._pending_lock:
            if self._pending >= MAX_PENDING:
                self.unwritten += 1
                if self.unwritten == 1 or self.unwritten % _LOUD_EVERY == 0:
                    log.error(
                        "the dead-letter log %s is not being written: %d records left out",
                        self.path,
                        self.unwritten,
                    )
                return
            self._pending += 1
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="deadletter")
        self._writer.submit(self._write, (line + "\n").encode("utf-8"))

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every record so far is written (or ``timeout`` seconds passed)."""
        if self._writer is not None:
            self._writer.submit(lambda: None).result(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Write what waits (for up to ``timeout`` seconds) and end the writer; a record
        after this starts it again."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            writer.submit(lambda: None).result(timeout)
        except TimeoutError:
            log.error("the dead-letter log %s: records still waiting at close", self.path)
        writer.shutdown(wait=False)

    def _write(self, data: bytes) -> None:
        try:
            self._append(data)
        except OSError as exc:
            log.error("cannot write the dead-letter log %s: %s", self.path, exc)
        finally:
            with self._pending_lock:
                self._pending -= 1

    def _entry(self, topic: str, payload: bytes, category: str, reason: str) -> dict[str, Any]:
        return {
            "ts": self._clock().isoformat(),
            "topic": topic,
            "category": category,
            "reason": reason,
            **payload_fields(payload, cut_at=MAX_PAYLOAD_BYTES),
            "payload_bytes": len(payload),
            "truncated": len(payload) > MAX_PAYLOAD_BYTES,
        }

    def _append(self, data: bytes) -> None:
        if self._size is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._size = self.path.stat().st_size
            except FileNotFoundError:
                self._size = 0
        if self._size > 0 and self._size + len(data) > self.max_bytes:
            os.replace(self.path, self.rotated_path)
            self._size = 0
            log.info("dead-letter log rotated to %s", self.rotated_path)
        with self.path.open("ab") as stream:
            stream.write(data)
        self._size += len(data)
