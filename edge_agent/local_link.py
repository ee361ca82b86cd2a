"""The agent's side of the gateway's local broker: device messages in, commands out.

:class:`LocalLink` stays connected (reconnecting with backoff) in a session the broker keeps
(clean start off, a session expiry), so what devices publish while the agent restarts waits
for it. It is subscribed to every topic of the profiles in use — following them when they
change, new filters subscribed before old ones go so that a pattern that moves loses
nothing — and relays the commands waiting in the :class:`~edge_agent.commands.CommandRelay`.

A device message is acknowledged to the broker only once what the agent made of it is
committed to the outbox: messages are staged as they come and committed in groups (one
transaction for up to ``commit_max_messages``), then acknowledged. The broker sends at most
``local_receive_maximum`` messages ahead of those acknowledgements, so the agent never holds
more than that, and a message the agent had not acknowledged when it died is delivered again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from edge_agent.commands import CommandRelay
from edge_agent.config import EdgeSettings
from edge_agent.outbox import Entry, OutboxError
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
        self._staged: list[tuple[Entry, Message, Client]] = []
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
                ) as client:
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
            self._receive(client),
            self._commands.relay(client),
            self._follow(client),
            self._stop.wait(),
        )

    async def _receive(self, client: Client) -> None:
        async for message in client.messages():
            self._staged.append((self._accept(message), message, client))
            self._has_staged.set()

    async def _commit_continually(self) -> None:
        backoff = Backoff(*STORE_RETRY_S)
        while True:
            await self._has_staged.wait()
            try:
                await self._commit_staged()
            except OutboxError as exc:
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
                for _, message, client in taken:
                    client.ack(message)
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
