"""The agent's side of the gateway's local broker: device messages in, commands out.

:class:`LocalLink` stays connected (reconnecting with backoff), subscribed to every topic of
the profiles in use — following them when they change, new filters subscribed before old
ones go so that a pattern that moves loses nothing — hands each device message to the
agent, and relays the commands waiting in the :class:`~edge_agent.commands.CommandRelay`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from edge_agent import transport
from edge_agent.commands import CommandRelay
from edge_agent.config import EdgeSettings
from edge_agent.status import Counters
from edge_agent.tasks import first_to_finish, wait_event
from edge_agent.transport import Connection, TransportError
from plumbing.backoff import Backoff

log = logging.getLogger(__name__)

INCOMING_LIMIT = 10_000


class LocalLink:
    """The connection to the local broker, kept up until ``stop`` is set."""

    def __init__(
        self,
        settings: EdgeSettings,
        counters: Counters,
        commands: CommandRelay,
        on_message: Callable[[str, bytes], object],
        stop: asyncio.Event,
        subscriptions: Sequence[str],
    ) -> None:
        self._settings = settings
        self._counters = counters
        self._commands = commands
        self._on_message = on_message
        self._stop = stop
        self._wanted = frozenset(subscriptions)
        self._changed = asyncio.Event()
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

    async def run(self) -> None:
        """Stay connected until stopped."""
        settings = self._settings
        backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        while not self._stop.is_set():
            try:
                async with transport.connect(
                    settings.local_host,
                    settings.local_port,
                    client_id=self._client_id,
                    keepalive_s=settings.keepalive_s,
                    max_queued_incoming=INCOMING_LIMIT,
                ) as conn:
                    subscriptions = sorted(self._wanted)
                    await conn.subscribe(subscriptions)
                    self.subscribed = frozenset(subscriptions)
                    self._counters.local_connects += 1
                    backoff.reset()
                    self.ready.set()
                    log.info("local broker %s: subscribed to %s", conn.name, subscriptions)
                    await first_to_finish(
                        self._receive(conn),
                        self._commands.relay(conn),
                        self._follow(conn),
                        self._stop.wait(),
                    )
            except TransportError as exc:
                log.warning("local broker: %s", exc)
            finally:
                self.ready.clear()
                self.subscribed = frozenset()
            if not self._stop.is_set():
                await wait_event(self._stop, backoff.next())

    async def _receive(self, conn: Connection) -> None:
        async for message in conn.messages():
            self._on_message(message.topic, message.payload)

    async def _follow(self, conn: Connection) -> None:
        while not self._stop.is_set():
            self._changed.clear()
            wanted = self._wanted
            current = self.subscribed
            added = sorted(wanted - current)
            removed = sorted(current - wanted)
            if added:
                await conn.subscribe(added)
                self.subscribed = current | wanted
            if removed:
                await conn.unsubscribe(removed)
                self.subscribed = wanted
            if added or removed:
                log.info(
                    "local broker %s: subscribed to %s, unsubscribed from %s",
                    conn.name,
                    added,
                    removed,
                )
            await self._changed.wait()
