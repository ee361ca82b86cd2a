"""The edge agent: device messages up to the cloud in batches, commands down to devices.

Up: every message on the local broker is decoded with its profile; an item is stamped
(with a fresh id and ``alarm`` set while a fault is active) and put in the outbox; the
forwarder sends batches to the cloud broker with QoS 1 and forgets items only once the
PUBACK arrived. Alarm items go at once, ahead of waiting telemetry, with their own device's
earlier readings (a device's readings keep their order).
Messages that cannot be decoded go to the dead-letter log.

Down: commands from the cloud are relayed to the local broker on
``linli/v1/local/cmd/{device_id}`` as ``{"id", "command", "args"}`` JSON (see
:mod:`edge_agent.commands`; device-specific command encoding per profile is a later step).

Profiles: every ``profiles_poll_s`` the site's profile directories are checked; when a
file was added, changed or removed the catalogue is loaded anew in a worker thread and, if
valid, swapped in: later messages decode with it, items already queued keep the profile
version that decoded them, and the local subscriptions follow on the open connection. An
invalid catalogue is logged issue by issue and counted; the previous one stays in use.

Status: a retained :class:`~device_profiles.protocol.GatewayStatus` says online (with
counters) at connect and every ``status_interval_s``, offline at shutdown; the MQTT last
will says offline if the agent dies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from pydantic import ValidationError

from device_profiles import (
    Catalogue,
    DecodeError,
    Profile,
    ProfileError,
    ProfileIssue,
    evaluate,
)
from device_profiles.commands import CommandError, encode_command
from device_profiles.decode import match_topic
from device_profiles.protocol import (
    Batch,
    Command,
    GatewayStatus,
    Item,
    batch_topic,
    command_topic,
    local_command_topic,
    status_topic,
)
from device_profiles.rules import RuleState, is_news
from edge_agent import transport
from edge_agent.commands import local_payload, parse_command
from edge_agent.config import EdgeSettings
from edge_agent.deadletter import DeadLetters, validation_summary
from edge_agent.outbox import MemoryOutbox, Outbox
from edge_agent.profiles import ProfileWatcher, compare
from edge_agent.sequence import SequenceError, SequenceNumbers
from edge_agent.tasks import Backoff, first_to_finish, wait_all, wait_event
from edge_agent.transport import Connection, LastWill, TransportError

log = logging.getLogger(__name__)

MAX_PENDING_COMMANDS = 1000
LOCAL_INCOMING_LIMIT = 10_000
CLOUD_INCOMING_LIMIT = 1000
STATUS_TIMEOUT_S = 5.0
SEQUENCE_RETRY_S = 5.0
INTERNAL_TRACEBACKS = 3  # tracebacks logged for unexpected decoding errors; then reasons only


@dataclasses.dataclass
class Counters:
    """What the agent has done since it started."""

    messages_received: int = 0
    items_queued: int = 0
    alarms_queued: int = 0
    items_forwarded: int = 0
    alarms_forwarded: int = 0
    batches_sent: int = 0
    commands_received: int = 0
    commands_relayed: int = 0
    commands_dropped: int = 0
    local_connects: int = 0
    cloud_connects: int = 0
    profile_reloads: int = 0
    profile_reload_errors: int = 0
    readings_within_deadband: int = 0


class EdgeAgent:
    """One gateway's agent. ``await agent.run()`` until cancelled or :meth:`stop`.

    Also an async context manager: ``async with EdgeAgent(...) as agent:`` runs it in a
    background task and stops it gracefully on exit. An agent runs once.
    """

    def __init__(
        self, settings: EdgeSettings, catalogue: Catalogue, *, outbox: Outbox | None = None
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.outbox: Outbox = (
            outbox if outbox is not None else MemoryOutbox(settings.outbox_max_items)
        )
        self.sequence = SequenceNumbers(settings.data_dir / "sequence")
        self.dead_letters = DeadLetters(
            settings.data_dir / "deadletter.jsonl", max_bytes=settings.deadletter_max_bytes
        )
        self.stats = Counters()
        self.local_ready = asyncio.Event()
        """Set while subscribed on the local broker."""
        self.local_subscriptions: frozenset[str] = frozenset()
        """The filters subscribed on the local broker now; empty while not connected."""
        self.cloud_ready = asyncio.Event()
        """Set while connected to the cloud broker, subscribed to commands, status sent."""
        # distinct ids, so that one broker can serve as both (a single-broker setup)
        self._local_client_id = f"linli-edge-{settings.gateway_id}-local"
        self._cloud_client_id = f"linli-edge-{settings.gateway_id}-cloud"
        self._subscriptions = catalogue.subscriptions()
        self._subscriptions_changed = asyncio.Event()
        self._stop = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._commands: deque[tuple[str, bytes]] = deque()
        self._command_ready = asyncio.Event()
        self._started = False
        self._task: asyncio.Task[None] | None = None
        # per (profile, device): what duration and rate rules remember, so that an alarm
        # the cloud will raise is recognised here too and sent ahead of bulk telemetry
        self._rule_states: dict[tuple[str, str], RuleState] = {}
        # per (profile, device): the last reading queued, for report by exception
        self._last_forwarded: dict[tuple[str, str], Item] = {}
        # device id → (profile id, the topic's other placeholders): how to send it commands
        self._devices: dict[str, tuple[str, dict[str, str]]] = {}

    # ------------------------------------------------------------------ state

    @property
    def counters(self) -> dict[str, int]:
        """A snapshot of every counter, as published in the gateway status."""
        values = dataclasses.asdict(self.stats)
        values["dead_letters"] = self.dead_letters.total
        for category, count in sorted(self.dead_letters.by_category.items()):
            values[f"dead_letters_{category}"] = count
        values["dropped"] = self.outbox.dropped
        values["items_waiting"] = len(self.outbox)
        return values

    # ------------------------------------------------------------------ messages (no network)

    def process_device_message(
        self, topic: str, payload: bytes, received_at: datetime | None = None
    ) -> Item | None:
        """Decode one device message and queue its item; dead-letter it if unusable.

        Returns None for a dead letter, and for a reading that is no news: within its
        profile's deadbands, with the same faults, less than half a heartbeat after the
        last one forwarded for that device (report by exception).
        """
        received_at = received_at or datetime.now(UTC)
        self.stats.messages_received += 1
        catalogue = self.catalogue
        try:
            decoded = catalogue.decode(topic, payload, received_at)
            key = (decoded.profile, decoded.device_id)
            self._remember_device(catalogue, decoded.profile, topic, decoded.device_id)
            verdict = evaluate(catalogue[decoded.profile], decoded, self._rule_states.get(key))
            self._rule_states[key] = verdict.state
            item = Item.from_decoded(decoded, received_at, alarm=bool(verdict.faults))
            if self._no_news(catalogue[decoded.profile], key, item):
                self.stats.readings_within_deadband += 1
                return None
            self._last_forwarded[key] = item
        except DecodeError as exc:
            known = catalogue.profile_for_topic(topic) is not None
            category = "decode" if known else "unknown_topic"
            self.dead_letters.record(
                topic=topic, payload=payload, category=category, reason=exc.reason
            )
            return None
        except ValidationError as exc:
            self.dead_letters.record(
                topic=topic, payload=payload, category="decode", reason=validation_summary(exc)
            )
            return None
        except Exception as exc:  # a bad message must never stop the agent
            if self.dead_letters.by_category.get("internal", 0) < INTERNAL_TRACEBACKS:
                log.exception("unexpected error decoding a message on %s", topic)
            self.dead_letters.record(
                topic=topic,
                payload=payload,
                category="internal",
                reason=f"{type(exc).__name__}: {exc}",
            )
            return None
        self.outbox.put(item)
        self.stats.items_queued += 1
        if item.alarm:
            self.stats.alarms_queued += 1
        bulk = self.outbox.pending_bulk
        if item.alarm or bulk == 1 or bulk >= self.settings.batch_max_items:
            self._wakeup.set()
        return item

    def _no_news(self, profile: Profile, key: tuple[str, str], item: Item) -> bool:
        last = self._last_forwarded.get(key)
        if last is None or last.faults != item.faults or item.alarm != last.alarm:
            return False
        if (item.received_at - last.received_at).total_seconds() >= profile.heartbeat_s / 2:
            return False
        return not is_news(profile, last.metrics, item.metrics)

    def _remember_device(
        self, catalogue: Catalogue, profile_id: str, topic: str, device_id: str
    ) -> None:
        known = self._devices.get(device_id)
        if known is not None and known[0] == profile_id:
            return
        matched = match_topic(catalogue[profile_id], topic)
        others = {k: v for k, v in (matched[1] if matched else {}).items() if k != "device_id"}
        self._devices[device_id] = (profile_id, others)

    def process_command(self, payload: bytes, *, retained: bool = False) -> bool:
        """Check one command from the cloud and queue it for the local broker.

        Unusable commands (invalid, or retained) go to the dead-letter log.
        """
        command, reason = parse_command(payload, retained=retained)
        if command is None:
            self.dead_letters.record(
                topic=command_topic(self.settings.gateway_id),
                payload=payload,
                category="command",
                reason=reason,
            )
            return False
        if len(self._commands) >= MAX_PENDING_COMMANDS:
            self._commands.popleft()
            self.stats.commands_dropped += 1
            log.warning(
                "%d commands wait for the local broker: dropped the oldest", MAX_PENDING_COMMANDS
            )
        try:
            routed = self._route(command)
        except CommandError as exc:
            self.dead_letters.record(
                topic=command_topic(self.settings.gateway_id),
                payload=payload,
                category="command",
                reason=str(exc),
            )
            return False
        self._commands.append(routed)
        self.stats.commands_received += 1
        self._command_ready.set()
        return True

    def _route(self, command: Command) -> tuple[str, bytes]:
        """Where and how a command reaches its device: in the vendor's words when the
        device's profile defines commands, else in the generic form on the local topic."""
        seen = self._devices.get(command.device_id)
        profile = self.catalogue.get(seen[0]) if seen else None
        if seen is None or profile is None or not profile.commands:
            return local_command_topic(command.device_id), local_payload(command)
        return encode_command(profile, command.device_id, command.command, command.args, seen[1])

    def replace_catalogue(self, catalogue: Catalogue) -> None:
        """Decode every later message with ``catalogue``; log what changed.

        Items already queued are untouched: they keep the profile version that decoded
        them. If the MQTT filters differ, the local connection follows without reconnecting.
        """
        changes = compare(self.catalogue, catalogue)
        self.catalogue = catalogue
        self.stats.profile_reloads += 1
        if not changes:
            log.info("device profiles reloaded: no profile changed")
        for profile in changes.added:
            log.info("device profile %s added: version %s", profile.id, profile.version)
        for old, new in changes.changed:
            if old.version == new.version:
                log.warning(
                    "device profile %s changed but kept version %s: raise its version, "
                    "or readings decoded before and after cannot be told apart",
                    new.id,
                    new.version,
                )
            else:
                log.info(
                    "device profile %s changed: version %s → %s", new.id, old.version, new.version
                )
        for profile in changes.removed:
            log.info("device profile %s removed (was version %s)", profile.id, profile.version)
        subscriptions = catalogue.subscriptions()
        if subscriptions != self._subscriptions:
            self._subscriptions = subscriptions
            self._subscriptions_changed.set()

    def _reject_profiles(self, issues: list[ProfileIssue]) -> None:
        self.stats.profile_reload_errors += 1
        log.error(
            "device profiles changed but %d problem(s) keep the previous ones in use:",
            len(issues),
        )
        for issue in issues:
            log.error("%s", issue)

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Ask :meth:`run` to finish: stop taking device messages, flush what is queued
        (for up to ``shutdown_timeout_s``), publish the offline status and return."""
        self._stop.set()
        self._wakeup.set()
        self._subscriptions_changed.set()

    async def run(self) -> None:
        """Run until :meth:`stop` or cancellation; either way shut down gracefully."""
        if self._started:
            raise RuntimeError("an EdgeAgent runs once; make a new one to run again")
        self._started = True
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.sequence.load()
        watcher = self._profile_watcher()
        log.info(
            "edge agent %s: local broker %s:%d, cloud broker %s:%d, %d profiles, data in %s",
            self.settings.gateway_id,
            self.settings.local_host,
            self.settings.local_port,
            self.settings.cloud_host,
            self.settings.cloud_port,
            len(self.catalogue),
            self.settings.data_dir,
        )
        loops = {
            asyncio.create_task(self._local_loop(), name="edge-local"),
            asyncio.create_task(self._cloud_loop(), name="edge-cloud"),
        }
        if watcher is not None:
            loops.add(asyncio.create_task(self._watch_profiles(watcher), name="edge-profiles"))
        stopped = asyncio.create_task(self._stop.wait(), name="edge-stop")
        try:
            await asyncio.wait({*loops, stopped}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            log.info("cancelled: shutting down")
            await self._shut_down(loops, stopped)
            raise
        await self._shut_down(loops, stopped)

    async def _shut_down(self, loops: set[asyncio.Task[None]], stopped: asyncio.Task[Any]) -> None:
        self.stop()
        try:
            _, pending = await asyncio.wait(loops, timeout=self.settings.shutdown_timeout_s)
        except asyncio.CancelledError:  # cancelled again while shutting down: stop now
            for task in (*loops, stopped):
                task.cancel()
            raise
        if pending:
            log.warning(
                "shutdown took over %.1f s: stopping anyway", self.settings.shutdown_timeout_s
            )
        for task in (*pending, stopped):
            task.cancel()
        await asyncio.gather(*pending, stopped, return_exceptions=True)
        if len(self.outbox):
            log.warning("%d items were not forwarded before shutdown", len(self.outbox))
        log.info("edge agent stopped: %s", self.counters)
        for task in loops:
            if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                raise error

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self.run(), name=f"edge-agent-{self.settings.gateway_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._task is not None:
            await self._task

    async def wait_ready(self) -> None:
        """Until connected to both brokers; raises if the agent stopped first."""
        ready = asyncio.ensure_future(wait_all(self.local_ready, self.cloud_ready))
        waiting: set[asyncio.Future[None]] = {ready}
        if self._task is not None:
            waiting.add(self._task)
        try:
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if ready not in done and self._task is not None:
            self._task.result()
            raise RuntimeError("the edge agent stopped before it was ready")

    # ------------------------------------------------------------------ local broker

    async def _local_loop(self) -> None:
        settings = self.settings
        backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        while not self._stop.is_set():
            try:
                async with transport.connect(
                    settings.local_host,
                    settings.local_port,
                    client_id=self._local_client_id,
                    keepalive_s=settings.keepalive_s,
                    max_queued_incoming=LOCAL_INCOMING_LIMIT,
                ) as conn:
                    subscriptions = self._subscriptions
                    await conn.subscribe(subscriptions)
                    self.local_subscriptions = frozenset(subscriptions)
                    self.stats.local_connects += 1
                    backoff.reset()
                    self.local_ready.set()
                    log.info("local broker %s: subscribed to %s", conn.name, subscriptions)
                    await first_to_finish(
                        self._receive(conn),
                        self._relay_commands(conn),
                        self._follow_subscriptions(conn),
                        self._stop.wait(),
                    )
            except TransportError as exc:
                log.warning("local broker: %s", exc)
            finally:
                self.local_ready.clear()
                self.local_subscriptions = frozenset()
            if not self._stop.is_set():
                await self._pause(backoff.next())

    async def _receive(self, conn: Connection) -> None:
        async for message in conn.messages():
            self.process_device_message(message.topic, message.payload)

    async def _follow_subscriptions(self, conn: Connection) -> None:
        """Subscribe and unsubscribe as the profiles change, until stopped.

        New filters are subscribed before old ones go, so a pattern that moves loses nothing.
        """
        while not self._stop.is_set():
            self._subscriptions_changed.clear()
            wanted = frozenset(self._subscriptions)
            current = self.local_subscriptions
            added = sorted(wanted - current)
            removed = sorted(current - wanted)
            if added:
                await conn.subscribe(added)
                self.local_subscriptions = current | wanted
            if removed:
                await conn.unsubscribe(removed)
                self.local_subscriptions = wanted
            if added or removed:
                log.info(
                    "local broker %s: subscribed to %s, unsubscribed from %s",
                    conn.name,
                    added,
                    removed,
                )
            await self._subscriptions_changed.wait()

    async def _relay_commands(self, conn: Connection) -> None:
        while True:
            while self._commands:
                topic, body = self._commands.popleft()
                try:
                    await conn.publish(topic, body, qos=1)
                except BaseException:
                    self._commands.appendleft((topic, body))
                    raise
                self.stats.commands_relayed += 1
                log.info("relayed a command to %s", topic)
            self._command_ready.clear()
            await self._command_ready.wait()

    # ------------------------------------------------------------------ cloud broker

    async def _cloud_loop(self) -> None:
        settings = self.settings
        gateway_id = settings.gateway_id
        will = LastWill(
            status_topic(gateway_id),
            GatewayStatus(gateway_id=gateway_id, online=False).model_dump_json().encode(),
        )
        backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        while not self._stop.is_set():
            try:
                async with transport.connect(
                    settings.cloud_host,
                    settings.cloud_port,
                    client_id=self._cloud_client_id,
                    will=will,
                    keepalive_s=settings.keepalive_s,
                    max_queued_incoming=CLOUD_INCOMING_LIMIT,
                ) as conn:
                    await conn.subscribe([command_topic(gateway_id)])
                    self.stats.cloud_connects += 1
                    await self._publish_status(conn, online=True)
                    backoff.reset()
                    self.cloud_ready.set()
                    log.info("cloud broker %s: connected, status online", conn.name)
                    await self._cloud_session(conn)
                    return
            except TransportError as exc:
                log.warning("cloud broker: %s; %d items wait", exc, len(self.outbox))
            finally:
                self.cloud_ready.clear()
            if not self._stop.is_set():
                await self._pause(backoff.next())

    async def _cloud_session(self, conn: Connection) -> None:
        """Forward, take commands and report status until stopped and drained."""
        try:
            await first_to_finish(
                self._forward(conn), self._listen_commands(conn), self._report_status(conn)
            )
        except asyncio.CancelledError:
            await self._say_offline(conn)
            raise
        await self._say_offline(conn)

    async def _forward(self, conn: Connection) -> None:
        """Send batches until stopped with nothing left to send."""
        gateway_id = self.settings.gateway_id
        topic = batch_topic(gateway_id)
        while True:
            items = await self._next_items()
            if not items:
                return
            try:
                seq = self.sequence.next()
            except SequenceError as exc:
                self.outbox.release(items)
                log.error("%s; items wait until it can be written", exc)
                await self._pause(SEQUENCE_RETRY_S)
                if self._stop.is_set():
                    return
                continue
            batch = Batch(gateway_id=gateway_id, seq=seq, sent_at=datetime.now(UTC), items=items)
            try:
                await conn.publish(topic, batch.model_dump_json().encode("utf-8"), qos=1)
            except BaseException:
                self.outbox.release(items)
                raise
            self.outbox.confirm(items)
            alarms = sum(1 for item in items if item.alarm)
            self.stats.batches_sent += 1
            self.stats.items_forwarded += len(items)
            self.stats.alarms_forwarded += alarms
            log.debug("sent batch seq=%d: %d items, %d alarms", seq, len(items), alarms)

    async def _next_items(self) -> list[Item]:
        """The next batch's items: alarms at once, bulk when full or lingered long enough.

        Once stopping, whatever waits (possibly nothing).
        """
        limit = self.settings.batch_max_items
        linger = self.settings.batch_linger_s
        while True:
            self._wakeup.clear()
            outbox = self.outbox
            if self._stop.is_set() or outbox.pending_alarms or outbox.pending_bulk >= limit:
                return outbox.take(limit)
            age = outbox.oldest_bulk_age()
            if age is not None and age >= linger:
                return outbox.take(limit)
            await wait_event(self._wakeup, None if age is None else linger - age)

    async def _listen_commands(self, conn: Connection) -> None:
        async for message in conn.messages():
            self.process_command(message.payload, retained=message.retain)

    async def _report_status(self, conn: Connection) -> None:
        while True:
            await asyncio.sleep(self.settings.status_interval_s)
            await self._publish_status(conn, online=True)

    async def _publish_status(self, conn: Connection, *, online: bool) -> None:
        gateway_id = self.settings.gateway_id
        status = GatewayStatus(
            gateway_id=gateway_id, online=online, ts=datetime.now(UTC), counters=self.counters
        )
        await conn.publish(
            status_topic(gateway_id),
            status.model_dump_json().encode("utf-8"),
            qos=1,
            retain=True,
            timeout_s=STATUS_TIMEOUT_S,
        )

    async def _say_offline(self, conn: Connection) -> None:
        try:
            await self._publish_status(conn, online=False)
        except TransportError as exc:
            log.warning("could not publish the offline status: %s", exc)
        else:
            log.info("cloud broker %s: status offline", conn.name)

    # ------------------------------------------------------------------ profiles

    def _profile_watcher(self) -> ProfileWatcher | None:
        """A watcher of the site's profile files, scanned now; None if not watching."""
        if self.settings.profiles_poll_s <= 0 or not self.settings.profiles_dirs:
            return None
        return ProfileWatcher(self.settings.profiles_dirs)

    async def _watch_profiles(self, watcher: ProfileWatcher) -> None:
        """Every ``profiles_poll_s``, load changed profiles and use them if valid; until
        stopped. A failure is logged and counted, never fatal."""
        while True:
            await self._pause(self.settings.profiles_poll_s)
            if self._stop.is_set():
                return
            try:
                catalogue = await asyncio.to_thread(watcher.poll)
            except ProfileError as exc:
                self._reject_profiles(exc.issues)
            except Exception:  # a bug in loading must not stop the agent; the old ones serve
                self.stats.profile_reload_errors += 1
                log.exception("could not reload the device profiles; the previous ones stay")
            else:
                if catalogue is not None and not self._stop.is_set():
                    self.replace_catalogue(catalogue)

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if stopped meanwhile."""
        await wait_event(self._stop, seconds)
