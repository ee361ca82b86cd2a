"""The edge agent: device messages up to the cloud in batches, commands down to devices.

:class:`EdgeAgent` puts the parts together and runs them until stopped:

- :class:`~edge_agent.local_link.LocalLink` — the gateway's local broker: device messages
  in, acknowledged once committed to the outbox; commands out;
- :class:`~edge_agent.intake.Intake` — a device message decoded with its profile, judged by
  its rules and stamped as an item (or dead-lettered);
- :class:`~edge_agent.outbox.Outbox` — where items wait, on disk, until the cloud has them,
  within a disk budget (what it drops is said in data-gap records);
- :class:`~edge_agent.cloud_link.CloudLink` — batches to the cloud broker (alarms first),
  deleted from the outbox on the cloud's acknowledgement; commands from it; the status;
- :class:`~edge_agent.commands.CommandRelay` — commands checked and routed to devices.

Every ``status_file_interval_s`` the agent writes ``DATA_DIR/status.json`` (in a worker
thread, replaced at once) for ``linli edge status``.

Profiles: every ``profiles_poll_s`` the site's profile directories are checked; when a
file was added, changed or removed the catalogue is loaded anew in a worker thread and, if
valid, swapped in: later messages decode with it, items already queued keep the profile
version that decoded them, and the local subscriptions follow on the open connection. An
invalid catalogue is logged issue by issue and counted; the previous one stays in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from device_profiles import Catalogue, ProfileError, ProfileIssue
from device_profiles.protocol import Item
from edge_agent.budget import MB, Budget
from edge_agent.cloud_link import CloudLink
from edge_agent.commands import CommandRelay
from edge_agent.config import EdgeSettings
from edge_agent.deadletter import DeadLetters
from edge_agent.intake import DeviceRoutes, Intake, MemoryLimits
from edge_agent.local_link import LocalLink
from edge_agent.metrics import EdgeMetrics, MetricsServer
from edge_agent.outbox import Entry, Outbox
from edge_agent.profiles import ProfileWatcher, compare
from edge_agent.status import (
    RECENT_DEVICES_S,
    STATUS_FILE,
    Counters,
    StatusFile,
    backlog_figures,
    write_status,
)
from edge_agent.tasks import wait_all, wait_event
from plumbing.mqtt import Message

log = logging.getLogger(__name__)


class EdgeAgent:
    """One gateway's agent. ``await agent.run()`` until cancelled or :meth:`stop`.

    Also an async context manager: ``async with EdgeAgent(...) as agent:`` runs it in a
    background task and stops it gracefully on exit. An agent runs once.
    """

    def __init__(self, settings: EdgeSettings, catalogue: Catalogue) -> None:
        self.settings = settings
        self.outbox = Outbox(
            settings.data_dir / "outbox.db",
            sync=settings.outbox_sync,
            limits=Budget(settings.outbox_budget_mb * MB, settings.outbox_alarm_share),
        )
        self.dead_letters = DeadLetters(
            settings.data_dir / "deadletter.jsonl", max_bytes=settings.deadletter_max_bytes
        )
        self.stats = Counters()
        self.metrics = EdgeMetrics(settings.gateway_id)
        self._stop = asyncio.Event()
        memory = MemoryLimits(settings.device_memory_max, settings.device_memory_idle_s)
        routes = DeviceRoutes(memory)
        self.routes = routes
        self.intake = Intake(
            settings.gateway_id,
            catalogue,
            self.dead_letters,
            self.stats,
            routes,
            max_clock_skew_s=settings.max_clock_skew_s,
            limits=memory,
        )
        self.commands = CommandRelay(
            settings.gateway_id, routes, self.dead_letters, self.stats, catalogue
        )
        self.local = LocalLink(
            settings,
            self.stats,
            self.commands,
            accept=self.accept,
            store=self.store,
            stop=self._stop,
            subscriptions=catalogue.subscriptions(),
        )
        self.cloud = CloudLink(
            settings,
            self.stats,
            self.outbox,
            on_command=lambda payload, retained: self.commands.accept(payload, retained=retained),
            status=lambda: self.counters,
            stop=self._stop,
        )
        self._started = False
        self._started_at = datetime.now(UTC)
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ state

    @property
    def catalogue(self) -> Catalogue:
        """The device profiles in use now."""
        return self.intake.catalogue

    @property
    def counters(self) -> dict[str, int]:
        """A snapshot of every counter and figure, as published in the gateway status:
        what the agent did since it started; what the outbox holds (per priority, the age of
        its oldest item, its size and budget) and ever dropped (cumulative, across restarts);
        the uplink; the devices heard from recently and held in memory."""
        values = self.stats.snapshot()
        values["dead_letters"] = self.dead_letters.total
        values["dead_letters_unwritten"] = self.dead_letters.unwritten
        for category, count in sorted(self.dead_letters.by_category.items()):
            values[f"dead_letters_{category}"] = count
        values.update(
            backlog_figures(self.outbox.backlog, self.outbox.limits.max_bytes, time.time())
        )
        devices = self.intake.devices
        values["uplink_connected"] = int(self.cloud.ready.is_set())
        values["devices_heard_recently"] = devices.set_within(RECENT_DEVICES_S)
        values["devices_in_memory"] = len(devices)
        values["devices_forgotten"] = devices.forgotten
        return values

    def status_file(self, *, running: bool = True) -> StatusFile:
        """What ``DATA_DIR/status.json`` says now."""
        return StatusFile(
            gateway_id=self.settings.gateway_id,
            pid=os.getpid(),
            running=running,
            started_at=self._started_at,
            written_at=datetime.now(UTC),
            interval_s=self.settings.status_file_interval_s,
            uplink=self.cloud.ready.is_set(),
            uplink_since=self.cloud.since,
            local=self.local.ready.is_set(),
            counters=self.counters,
        )

    @property
    def local_subscriptions(self) -> frozenset[str]:
        """The filters subscribed on the local broker now; empty while not connected."""
        return self.local.subscribed

    # ------------------------------------------------------------------ messages

    def process_device_message(
        self, topic: str, payload: bytes, received_at: datetime | None = None
    ) -> Item | None:
        """The item one device message makes (see :class:`Intake`); None for a dead letter
        and for a reading that is no news. Nothing is stored: see :meth:`accept`."""
        return self.intake.accept(topic, payload, received_at or datetime.now(UTC))

    def accept(self, message: Message) -> Entry:
        """What to commit for a message from the gateway broker.

        A message the broker delivers again (after the agent died before acknowledging it)
        whose topic and payload are those of one of the last messages committed is the very
        same message: it is committed as nothing (and so acknowledged), not judged again.
        """
        fingerprint = _fingerprint(message) if message.qos > 0 else None
        if fingerprint is not None and message.dup and self.outbox.recently_committed(fingerprint):
            self.stats.redeliveries_skipped += 1
            return Entry(None, fingerprint)
        return Entry(self.process_device_message(message.topic, message.payload), fingerprint)

    async def store(self, entries: list[Entry]) -> None:
        """Commit ``entries`` to the outbox and let the cloud link know."""
        await self.outbox.put(entries)
        items = [entry.item for entry in entries if entry.item is not None]
        self.stats.items_queued += len(items)
        self.stats.alarms_queued += sum(1 for item in items if item.alarm)
        if items:
            self.cloud.wake()

    def process_command(self, payload: bytes, *, retained: bool = False) -> bool:
        """Check one command from the cloud and queue it for its device."""
        return self.commands.accept(payload, retained=retained)

    def replace_catalogue(self, catalogue: Catalogue) -> None:
        """Decode every later message with ``catalogue``; log what changed.

        Items already queued are untouched: they keep the profile version that decoded
        them. If the MQTT filters differ, the local connection follows without reconnecting.
        """
        changes = compare(self.catalogue, catalogue)
        self.intake.catalogue = catalogue
        self.commands.catalogue = catalogue
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
        self.local.follow(catalogue.subscriptions())

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
        self.cloud.wake()
        self.local.wake()

    async def run(self) -> None:
        """Run until :meth:`stop` or cancellation; either way shut down gracefully."""
        if self._started:
            raise RuntimeError("an EdgeAgent runs once; make a new one to run again")
        self._started = True
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await self.outbox.open()
        try:
            with self._serving_metrics():
                await self._run()
        finally:
            await self._write_status(running=False)
            await self.outbox.close()
            await asyncio.to_thread(self.dead_letters.close, self.settings.shutdown_timeout_s)

    async def _run(self) -> None:
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
            asyncio.create_task(self.local.run(), name="edge-local"),
            asyncio.create_task(self.cloud.run(), name="edge-cloud"),
        }
        if watcher is not None:
            loops.add(asyncio.create_task(self._watch_profiles(watcher), name="edge-profiles"))
        loops.add(asyncio.create_task(self._report_status(), name="edge-status-file"))
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
        ready = asyncio.ensure_future(wait_all(self.local.ready, self.cloud.ready))
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

    # ------------------------------------------------------------------ status file

    async def _report_status(self) -> None:
        """Write the status file now and every ``status_file_interval_s``, until stopped."""
        while not self._stop.is_set():
            await self._write_status(running=True)
            await wait_event(self._stop, self.settings.status_file_interval_s)

    def _serving_metrics(self) -> contextlib.AbstractContextManager[object]:
        """``/metrics`` on ``metrics_port`` while the agent runs, if it is set."""
        port = self.settings.metrics_port
        if port is None:
            return contextlib.nullcontext()
        log.info("metrics at http://%s:%d/metrics", self.settings.metrics_host, port)
        return MetricsServer(self.metrics, self.settings.metrics_host, port)

    async def _write_status(self, *, running: bool) -> None:
        path = self.settings.data_dir / STATUS_FILE
        status = self.status_file(running=running)
        self.metrics.update(status.counters)
        try:
            await asyncio.to_thread(write_status, path, status)
        except OSError as exc:
            log.warning("cannot write the status file %s: %s", path, exc)

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
            await wait_event(self._stop, self.settings.profiles_poll_s)
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


def _fingerprint(message: Message) -> bytes:
    """What tells a redelivered message from another: its topic and payload."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(message.topic.encode())
    digest.update(b"\0")
    digest.update(message.payload)
    return digest.digest()
