"""The stages of one ingest connection, overlapping: read, commit, acknowledge.

- **read** (event loop): takes each message from the broker as it comes and validates it
  at once (:meth:`Intake.read`), so parsing the next messages overlaps the commit under way;
- **commit** (one worker thread, one group at a time): takes what has been read — up to
  ``max_batches`` batches or ``max_readings`` readings, waiting at most ``wait`` after the
  first for more — and stores it in one transaction. Under load a group is simply what
  arrived while the previous one committed; when idle a message is committed at once;
- **acknowledge** (event loop): once a group has committed, publishes each batch's
  acknowledgement to its gateway, waits for the broker to have them all, then acknowledges
  the group's messages to the broker, in the order they came — while the next group commits.
  A group's acknowledgements go out as soon as it has committed, without waiting for an
  earlier group's to reach the broker: a wait for the broker can take far longer than a
  commit (a broker that leaves Nagle's algorithm on holds small packets back for a delayed
  TCP acknowledgement, up to 40 ms), and one wait after another would let acknowledgements
  fall ever further behind the commits.

Nothing is acknowledged before the commit that stored it. Whatever fails ends every
stage: messages not acknowledged are delivered again after the reconnect, and what was
committed but not acknowledged comes back as a duplicate. A commit under way when the
stages end is waited for, so that one writer thread at most ever runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from cloud.ingest import transport
from cloud.ingest.acks import Ack
from cloud.ingest.intake import Incoming, Intake, Outcome
from cloud.metrics import CloudMetrics

T = TypeVar("T")


@dataclass(frozen=True)
class GroupPolicy:
    """How many messages one transaction takes, and how long a group waits to fill."""

    max_batches: int = 500
    max_readings: int = 10_000
    wait_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Received:
    """A message read from the broker, validated, waiting for its commit."""

    message: transport.Message
    incoming: Incoming
    read_at: float = field(default_factory=time.monotonic)
    """when it was read (``time.monotonic``)"""

    def oldest_reading(self) -> datetime | None:
        """When its gateway received the first (oldest waiting) reading of the batch."""
        message = self.incoming.message
        items = getattr(message, "items", None)
        return items[0].received_at if items else None


Settle = Callable[[transport.IngestLink, list[Received]], Awaitable[list[Outcome]]]


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a worker thread. Should the caller be cancelled meanwhile, the
    call is still waited for (a commit cannot be stopped half-way, and the next one must
    not start beside it)."""
    call = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await call
        raise


class Pipeline:
    """Read, commit and acknowledge on one connection until it ends or anything fails."""

    def __init__(
        self,
        link: transport.IngestLink,
        intake: Intake,
        metrics: CloudMetrics,
        policy: GroupPolicy,
        settle: Settle,
        on_progress: Callable[[], None],
    ) -> None:
        self._link = link
        self._intake = intake
        self._metrics = metrics
        self._policy = policy
        self._settle = settle
        self._on_progress = on_progress
        self._read: asyncio.Queue[Received] = asyncio.Queue()
        self._done: asyncio.Queue[tuple[list[Received], list[Outcome]]] = asyncio.Queue()
        self._sent: asyncio.Queue[tuple[list[Received], list[Ack], asyncio.Future[Any]]]
        self._sent = asyncio.Queue()

    async def run(self) -> None:
        """Until a stage fails (its error is raised) or the connection ends (MqttError)."""
        stages = [
            asyncio.create_task(self._reading(), name="ingest-read"),
            asyncio.create_task(self._committing(), name="ingest-commit"),
            asyncio.create_task(self._acknowledging(), name="ingest-ack"),
            asyncio.create_task(self._settling(), name="ingest-ack-settle"),
        ]
        try:
            finished, _ = await asyncio.wait(stages, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for stage in stages:
                stage.cancel()
            for stage in stages:
                with contextlib.suppress(asyncio.CancelledError):
                    await stage
            await self._forget_published()
        for stage in finished:
            stage.result()  # the first failure, as it was
        raise transport.MqttError("ingest stopped reading")  # pragma: no cover

    async def _reading(self) -> None:
        read, queue = self._intake.read, self._read
        async for message in self._link.messages():
            queue.put_nowait(Received(message, read(message.topic, message.payload)))

    async def _committing(self) -> None:
        while True:
            group = await self._group()
            started = time.perf_counter()
            outcomes = await self._settle(self._link, group)
            self._metrics.ingest_commit_seconds.observe(time.perf_counter() - started)
            self._metrics.ingest_group_messages.observe(len(group))
            oldest = group[0].oldest_reading()
            if oldest is not None:  # one measure a group: the hot path stays as it was
                lag = (datetime.now(UTC) - oldest).total_seconds()
                self._metrics.ingest_lag_seconds.observe(max(lag, 0.0))
            self._done.put_nowait((group, outcomes))

    async def _group(self) -> list[Received]:
        """The next group: what has been read, up to the policy's bounds; at least one."""
        queue, policy = self._read, self._policy
        group = [await queue.get()]
        readings = group[0].incoming.readings
        deadline = time.monotonic() + policy.wait_s
        while len(group) < policy.max_batches and readings < policy.max_readings:
            if queue.empty():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    async with asyncio.timeout(left):
                        received = await queue.get()
                except TimeoutError:
                    break
            else:
                received = queue.get_nowait()
            group.append(received)
            readings += received.incoming.readings
        return group

    async def _acknowledging(self) -> None:
        """Publish each committed group's acknowledgements at once, without waiting for an
        earlier group's to reach the broker (:meth:`_settling` waits for them, in order)."""
        link, done, sent = self._link, self._done, self._sent
        while True:
            group, outcomes = await done.get()
            acks = [outcome.ack for outcome in outcomes if outcome.ack is not None]
            published = asyncio.ensure_future(link.publish_acks(acks))
            sent.put_nowait((group, acks, published))

    async def _settling(self) -> None:
        """Once a group's acknowledgements have reached the broker, acknowledge its messages
        to the broker, group by group in the order they committed."""
        link, metrics, sent = self._link, self._metrics, self._sent
        while True:
            group, acks, published = await sent.get()
            await published
            metrics.ingest_ack_seconds.observe(time.monotonic() - group[0].read_at)
            for result, count in Counter(ack.result for ack in acks).items():
                metrics.acks.labels(result=result).inc(count)
            for received in group:
                link.ack(received.message)
            self._on_progress()

    async def _forget_published(self) -> None:
        """After the stages ended: acknowledgements still on their way are given up (their
        batches come again after the reconnect, and are acknowledged as duplicates)."""
        while not self._sent.empty():
            _, _, published = self._sent.get_nowait()
            published.cancel()
            with contextlib.suppress(BaseException):
                await published
