"""The agent's side of the gateway's local broker: device messages in, commands out.

:class:`LocalLink` stays connected (reconnecting with backoff) in a session the broker keeps
(clean start off, a session expiry), so what devices publish while the agent restarts waits
for it. It is subscribed to every topic of the profiles in use — following them when they
change, new filters subscribed before old ones go so that a pattern that moves loses
nothing — and relays the commands waiting in the :class:`~edge_agent.commands.CommandRelay`.

A device message is acknowledged to the broker only once what the agent made of it is
committed to the outbox (or recorded there as dropped, in a data gap): messages are staged
as they come and committed in groups (one transaction for up to ``commit_max_messages``),
then acknowledged. An outbox that cannot be written (a full disk with nothing left to drop,
an I/O error) leaves them staged and unacknowledged, and is tried again with backoff. The
broker should send at most ``local_receive_maximum`` messages ahead of those
acknowledgements, and a message the agent had not acknowledged when it died is delivered
again. A broker may send more (Mosquitto 2.0 does, once acknowledgements flow), so the agent
also stops reading while it holds that many messages uncommitted, and reads again once it
holds half as many: what it holds in memory is bounded whatever the broker does.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence

from edge_agent.commands import CommandRelay
from edge_agent.config import EdgeSettings
from edge_agent.outbox import Entry, OutboxError, OutboxFull
from edge_agent.status import Counters
from edge_agent.tasks import first_to_finish, wait_event
from plumbing.backoff import Backoff
from plumbing.mqtt import Client, Message, MqttError

log = logging.getLogger(__name__)

STORE_RETRY_S = (0.5, 30.0)
"""Backoff between attempts to commit when the outbox cannot be written."""


class LocalLink:
    """The connection to the local broker, kept up until ``stop`` is set."""

    def __init__(
        self,
        settings: EdgeSettings,
        counters: Counters,
        commands: CommandRelay,
        *,
        accept: Callable[[Message], Entry],
        store: Callable[[list[Entry]], Awaitable[None]],
        stop: asyncio.Event,
        subscriptions: Sequence[str],
    ) -> None:
        self._settings = settings
        self._counters = counters
        self._commands = commands
        self._accept = accept
        self._store = store
        self._stop = stop
        self._wanted = frozenset(subscriptions)
        self._changed = asyncio.Event()
        self._staged: list[tuple[Entry, Message, _Connection]] = []
        self._paused: Client | None = None
        self._has_staged = asyncio.Event()
        self._committing = asyncio.Lock()
        # distinct from the cloud link's, so that one broker can serve as both
        self._client_id = f"linli-edge-{settings.gateway_id}-local"
        self.ready = asyncio.Event()
        """Set while subscribed."""
        self.subscribed: frozenset[str] = frozenset()
        """The filters subscribed now; empty while not connected."""

    def follow(self, subscriptions: Sequence[str]) -> None:
        """Subscribe to ``subscriptions`` instead, on the open connection."""
        wanted = frozenset(subscriptions)
        if wanted != self._wanted:
            self._wanted = wanted
            self._changed.set()

    def wake(self) -> None:
        """Look at the stop event and the subscriptions again (when stopping)."""
        self._changed.set()

    @property
    def staged(self) -> int:
        """Device messages received and not yet committed."""
        return len(self._staged)

    async def run(self) -> None:
        """Stay connected until stopped; commit what was received before returning."""
        committer = asyncio.create_task(self._commit_continually(), name="edge-commit")
        try:
            await self._connect_continually()
        finally:
            committer.cancel()
            await asyncio.gather(committer, return_exceptions=True)
            await self._commit_or_log()

    async def _connect_continually(self) -> None:
        settings = self._settings
        backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        while not self._stop.is_set():
            connection = _Connection()
            try:
                async with Client(
                    settings.local_host,
                    settings.local_port,
                    client_id=self._client_id,
                    clean_start=False,
                    session_expiry_s=settings.local_session_expiry_s,
                    receive_maximum=settings.local_receive_maximum,
                    manual_ack=True,
                    keepalive_s=settings.keepalive_s,
                    on_message=functools.partial(self._take, connection=connection),
                ) as client:
                    connection.client = client
                    try:
                        await self._serve(client)
                        backoff.reset()
                    finally:
                        # acknowledged while the connection is there, if it still is
                        await self._commit_or_log()
            except MqttError as exc:
                log.warning("local broker: %s", exc)
            finally:
                self.ready.clear()
                self.subscribed = frozenset()
            if not self._stop.is_set():
                await wait_event(self._stop, backoff.next())

    async def _serve(self, client: Client) -> None:
        subscriptions = sorted(self._wanted)
        await client.subscribe(subscriptions)
        self.subscribed = frozenset(subscriptions)
        self._counters.local_connects += 1
        self.ready.set()
        log.info(
            "local broker %s: subscribed to %s (%s session)",
            client.name,
            subscriptions,
            "kept" if client.session_present else "new",
        )
        await first_to_finish(
            self._until_lost(client),
            self._commands.relay(client),
            self._follow(client),
            self._stop.wait(),
        )

    @staticmethod
    async def _until_lost(client: Client) -> None:
        reason = await client.wait_lost()
        raise MqttError(f"{client.name}: connection lost: {reason}")

    def _take(self, message: Message, connection: _Connection) -> None:
        """Stage one device message as it arrives (in the event loop's thread, from the
        connection's reader): what it makes is committed by the committer, then it is
        acknowledged on ``connection``."""
        self._staged.append((self._accept(message), message, connection))
        self._has_staged.set()
        client = connection.client
        if len(self._staged) >= self._settings.local_receive_maximum and client is not None:
            client.pause_reading()
            self._paused = client

    def _resume_reading(self) -> None:
        paused = self._paused
        if paused is not None and len(self._staged) <= self._settings.local_receive_maximum // 2:
            paused.resume_reading()
            self._paused = None

    async def _commit_continually(self) -> None:
        backoff = Backoff(*STORE_RETRY_S)
        while True:
            await self._has_staged.wait()
            try:
                await self._commit_staged()
            except OutboxError as exc:
                if isinstance(exc, OutboxFull):
                    self._counters.outbox_full += 1
                delay = backoff.next()
                log.error("%s; %d messages wait, trying again in %.1f s", exc, self.staged, delay)
                await asyncio.sleep(delay)
            else:
                backoff.reset()

    async def _commit_or_log(self) -> None:
        try:
            await self._commit_staged()
        except OutboxError as exc:
            log.error("%s; %d messages stay unacknowledged", exc, self.staged)

    async def _commit_staged(self) -> None:
        """Commit what is staged, then acknowledge it (on connections still open)."""
        async with self._committing:
            while self._staged:
                taken = self._staged[: self._settings.commit_max_messages]
                await self._store([entry for entry, _, _ in taken])
                del self._staged[: len(taken)]
                for _, message, connection in taken:
                    if connection.client is not None:
                        connection.client.ack(message)
                self._resume_reading()
            self._has_staged.clear()

    async def _follow(self, client: Client) -> None:
        while not self._stop.is_set():
            self._changed.clear()
            wanted = self._wanted
            current = self.subscribed
            added = sorted(wanted - current)
            removed = sorted(current - wanted)
            if added:
                await client.subscribe(added)
                self.subscribed = current | wanted
            if removed:
                await client.unsubscribe(removed)
                self.subscribed = wanted
            if added or removed:
                log.info(
                    "local broker %s: subscribed to %s, unsubscribed from %s",
                    client.name,
                    added,
                    removed,
                )
            await self._changed.wait()


class _Connection:
    """One connection to the local broker, known to the messages it delivered: they may
    arrive (a kept session's queue, right after the broker's CONNACK) before the client
    that receives them is handed over."""

    __slots__ = ("client",)

    def __init__(self) -> None:
        self.client: Client | None = None
