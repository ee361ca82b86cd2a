"""Recordings of device traffic: the file format, reading and writing it, and replay timing.

A recording is a text file of JSON lines, one per message, in the order they arrived::

    {"t": 0.412, "topic": "acme/gate/gate-01/state", "payload": "{\\"ts\\":1718000000,...}"}
    {"t": 1.057, "topic": "vendor/x/raw", "payload_b64": "AAEC/w=="}

``t`` is seconds since recording started; the payload is ``payload`` (text) when it is
UTF-8, else ``payload_b64`` (base64), as :mod:`plumbing.payloads` keeps payloads. Replay
sends the payloads byte for byte, so the event timestamps inside them are the recorded
ones: a replayed fault is the same fault at the same event time, which is what testing
rules against a recorded day needs.

This module does no MQTT: :func:`replay` is given a ``publish`` function
(:class:`simulators.transport.Publisher` in ``linli sim replay``).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from plumbing.payloads import FIELDS, payload_fields, payload_from
from plumbing.tasks import wait_event
from simulators.device import SimulatorError

DEFAULT_REPLAY_WINDOW = 100
"""Replayed messages that may await their acknowledgement at once."""


class RecordingError(SimulatorError):
    """A recording file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Recorded:
    """One recorded message: ``t`` seconds after the recording started."""

    t: float
    topic: str
    payload: bytes


def encode(record: Recorded) -> str:
    """One line of a recording (without the newline)."""
    document: dict[str, Any] = {"t": round(record.t, 6), "topic": record.topic}
    document.update(payload_fields(record.payload))
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def decode(line: str) -> Recorded:
    """The message on one line; ValueError saying what is wrong with a bad line."""
    try:
        document = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(document, dict):
        raise ValueError("expected a JSON object")
    unknown = set(document) - {"t", "topic", *FIELDS}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    t = document.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        raise ValueError(f"'t' must be a number of seconds >= 0, got {t!r}")
    topic = document.get("topic")
    if not isinstance(topic, str) or not topic or "+" in topic or "#" in topic:
        raise ValueError(f"'topic' must be a non-empty topic without wildcards, got {topic!r}")
    return Recorded(float(t), topic, payload_from(document))


def read(path: Path) -> Iterator[Recorded]:
    """The messages of a recording, in file order; RecordingError names a bad line.

    Blank lines are skipped.
    """
    try:
        with path.open("rb") as file:
            for number, raw in enumerate(file, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise RecordingError(f"{path}:{number}: not UTF-8 text") from None
                if not line.strip():
                    continue
                try:
                    yield decode(line)
                except ValueError as exc:
                    raise RecordingError(f"{path}:{number}: {exc}") from None
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class Summary:
    """What a recording holds: how many messages, over how many seconds."""

    messages: int
    duration_s: float


def check(path: Path) -> Summary:
    """Read the whole recording once; RecordingError at the first bad line."""
    count = 0
    last = 0.0
    for record in read(path):
        count += 1
        last = max(last, record.t)
    return Summary(count, last)


class RecordingWriter:
    """Writes a recording; ``t`` counts from when it was opened. A context manager.

    Each message is written as one line at once (line-buffered), so a recording cut short
    by a crash loses at most the line being written.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.count = 0
        self._clock = clock
        self._started = 0.0
        self._file: IO[str] | None = None

    def __enter__(self) -> RecordingWriter:
        try:
            self._file = self.path.open("w", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise RecordingError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._started = self._clock()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()

    @property
    def elapsed(self) -> float:
        """Seconds since the recording started."""
        return self._clock() - self._started

    def write(self, topic: str, payload: bytes) -> Recorded:
        """Append one message received now; RecordingError if the file cannot be written."""
        if self._file is None:
            raise RecordingError(f"{self.path} is not open")
        record = Recorded(max(0.0, self.elapsed), topic, payload)
        try:
            self._file.write(encode(record) + "\n")
        except OSError as exc:
            raise RecordingError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self.count += 1
        return record


def due_after(record: Recorded, speed: float) -> float:
    """Seconds after the replay starts at which ``record`` is published."""
    if not (speed > 0 and math.isfinite(speed)):
        raise ValueError(f"speed must be a positive number, got {speed}")
    return record.t / speed


@dataclass
class ReplayResult:
    """How a replay went: ``sent`` messages acknowledged; ``error`` if one failed."""

    sent: int = 0
    error: Exception | None = None
    stopped: bool = False


async def replay(
    records: Iterable[Recorded],
    publish: Callable[[str, bytes], Awaitable[None]],
    *,
    speed: float = 1.0,
    stop: asyncio.Event | None = None,
    window: int = DEFAULT_REPLAY_WINDOW,
    clock: Callable[[], float] = time.monotonic,
) -> ReplayResult:
    """Publish ``records`` with their recorded spacing divided by ``speed``.

    Messages go out in file order; up to ``window`` await their acknowledgement at once.
    Ends when all are acknowledged, when ``stop`` is set (``stopped``), or at the first
    failed publish (``error``, which must be an Exception from ``publish``). A record
    that is late (e.g. after a slow acknowledgement) is sent at once. RecordingError from
    ``records`` propagates after the messages already sent are acknowledged.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    stop = stop or asyncio.Event()
    result = ReplayResult()
    slots = asyncio.Semaphore(window)
    sending: set[asyncio.Task[None]] = set()

    async def send(record: Recorded) -> None:
        try:
            await publish(record.topic, record.payload)
        except Exception as exc:  # reported to the caller in the result, not lost
            if result.error is None:
                result.error = exc
        else:
            result.sent += 1
        finally:
            slots.release()

    started = clock()
    try:
        for record in records:
            delay = started + due_after(record, speed) - clock()
            if delay > 0:
                await wait_event(stop, delay)
            await slots.acquire()
            if stop.is_set() or result.error is not None:
                slots.release()
                result.stopped = result.error is None
                break
            task = asyncio.create_task(send(record))
            sending.add(task)
            task.add_done_callback(sending.discard)
    finally:
        if sending:
            await asyncio.wait(set(sending))
    return result
