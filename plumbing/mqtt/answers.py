"""What a client waits for from the broker, by message id: a SUBACK, an UNSUBACK, a PUBACK
or a PUBCOMP. Each is a future that the broker's answer settles and the connection's end
fails; nothing here touches the socket or paho."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from plumbing.mqtt.errors import MqttError


class Answers:
    """The answers one :class:`~plumbing.mqtt.Client` awaits, by message id.

    ``own`` holds the ids of the QoS 1 messages that
    :meth:`~plumbing.mqtt.Client.publish_all` wrote itself: their PUBACKs are taken out of
    the read before paho sees them (:meth:`acknowledged`), and a round larger than the
    window waits for :meth:`room`. ``loop`` is set once the client runs in one.
    """

    def __init__(self, name: str, timeout_s: float) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.loop: asyncio.AbstractEventLoop | None = None
        self.own: set[int] = set()
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._room: asyncio.Future[None] | None = None

    def __contains__(self, mid: int) -> bool:
        return mid in self._waiting

    def expect(self, mid: int) -> asyncio.Future[Any]:
        """A future the answer to ``mid`` settles; the caller :meth:`forget` s it after."""
        assert self.loop is not None
        waiter = self.loop.create_future()
        self._waiting[mid] = waiter
        return waiter

    def forget(self, mids: Sequence[int]) -> None:
        """Stop waiting for ``mids``, answered or not."""
        waiting, own = self._waiting, self.own
        for mid in mids:
            waiting.pop(mid, None)
            own.discard(mid)

    async def one(self, mid: int, what: str) -> Any:
        """The answer to ``mid``; MqttError naming ``what`` if none comes in time or the
        connection ends first."""
        waiter = self.expect(mid)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await waiter
        except TimeoutError:
            raise self._unanswered(what) from None
        finally:
            self._waiting.pop(mid, None)

    async def all(self, mids: Sequence[int], what: str) -> None:
        """The answers to all of ``mids``, under one timeout, as :meth:`one` waits for one."""
        waiters = [self.expect(mid) for mid in mids]
        try:
            async with asyncio.timeout(self.timeout_s):
                await asyncio.gather(*waiters)
        except TimeoutError:
            raise self._unanswered(what) from None
        finally:
            self.forget(mids)

    def _unanswered(self, what: str) -> MqttError:
        return MqttError(f"{self.name}: {what}: no answer within {self.timeout_s:g} s")

    def settle(self, mid: int, value: Any = None, error: str | None = None) -> None:
        """The broker answered ``mid``: with ``value``, or refusing it (``error``)."""
        waiter = self._waiting.get(mid)
        if waiter is None or waiter.done():
            return
        if error is None:
            waiter.set_result(value)
        else:
            waiter.set_exception(MqttError(f"{self.name}: {error}"))

    def acknowledged(self, mid: int, reason: int) -> None:
        """The broker's PUBACK of an ``own`` message, with its reason code."""
        self.own.discard(mid)
        error = None if reason < 0x80 else f"publish refused: reason code {reason:#04x}"
        self.settle(mid, error=error)
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)

    async def room(self) -> None:
        """Until the PUBACK of an ``own`` message arrives (MqttError if the connection
        ends first)."""
        assert self.loop is not None
        if self._room is None or self._room.done():
            self._room = self.loop.create_future()
        await asyncio.shield(self._room)

    def fail_all(self, reason: str) -> None:
        """The connection ended: whatever waits fails with MqttError naming ``reason``."""
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(MqttError(f"{self.name}: {reason}"))
        if self._room is not None and not self._room.done():
            self._room.set_exception(MqttError(f"{self.name}: {reason}"))
            self._room.exception()  # retrieved: nobody may be waiting for room
