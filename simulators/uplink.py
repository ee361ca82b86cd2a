"""The gateway's uplink to the cloud broker, as a TCP relay the simulator can cut.

In simulation the edge agent reaches the cloud broker through an :class:`Uplink` listening
on a loopback port. :meth:`Uplink.cut` simulates a lost uplink or a gateway losing power:
every relayed connection is aborted at once on both sides, so the relay never sends an MQTT
DISCONNECT and the broker publishes the client's last will; until :meth:`Uplink.restore`
the port is closed, so a new connection is refused at once (a client whose connection were
accepted and then dropped before its CONNACK would wait out its connect timeout instead).
Plain asyncio streams, no MQTT.

Relays are stopped by aborting their transports, which ends their pipes' reads and drains;
only tasks still connecting to the target are cancelled (``open_connection``, no MQTT client).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Coroutine
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
CHUNK_BYTES = 64 * 1024

_Pair = tuple[asyncio.StreamWriter, asyncio.StreamWriter]
"""One relayed connection: the client's side and the target's side."""


class Uplink:
    """A TCP relay from 127.0.0.1:<port> to the cloud broker at target_host:target_port that
    can be cut."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        self._target = (target_host, target_port)
        self._listen = (listen_host, listen_port)
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._cut = False
        self._closed = False
        self._pairs: set[_Pair] = set()
        self._connecting: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Uplink:
        self._server = await asyncio.start_server(self._accept, *self._listen)
        self._port = int(self._server.sockets[0].getsockname()[1])
        log.debug("uplink %d relays to %s:%d", self.port, *self._target)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        if self._server is not None:
            self._server.close()
        self._drop_all()
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def port(self) -> int:
        """The port actually listened on."""
        if self._port is None:
            raise RuntimeError("the uplink is not listening yet; use 'async with Uplink(...)'")
        return self._port

    @property
    def is_cut(self) -> bool:
        return self._cut

    @property
    def connections(self) -> int:
        """Relayed connections open now."""
        return len(self._pairs)

    def cut(self) -> None:
        """Abort every relayed connection, and refuse new ones until :meth:`restore`."""
        self._cut = True
        if self._server is not None:
            self._server.close()  # stop listening: connections are refused
        dropped = self._drop_all()
        log.info("uplink %s cut: %d connection(s) dropped", self._where, dropped)

    def restore(self) -> None:
        """Relay new connections again: the port listens again before this returns."""
        if not self._cut or self._closed:
            return
        self._cut = False
        listening = socket.create_server((self._listen[0], self.port))  # SO_REUSEADDR
        self._spawn(self._serve(listening))
        log.info("uplink %s restored", self._where)

    async def _serve(self, listening: socket.socket) -> None:
        server = await asyncio.start_server(self._accept, sock=listening)
        if self._closed or self._cut:
            server.close()
        else:
            self._server = server

    @property
    def _where(self) -> str:
        return f"{self._port}->{self._target[0]}:{self._target[1]}"

    def _drop_all(self) -> int:
        for task, writer in self._connecting.items():
            task.cancel()  # safe: it is waiting in open_connection, or has not started
            writer.transport.abort()
        dropped = len(self._pairs)
        for pair in list(self._pairs):
            self._close(pair, abort=True)
        return dropped

    def _close(self, pair: _Pair, *, abort: bool) -> None:
        self._pairs.discard(pair)
        for writer in pair:
            if abort:
                writer.transport.abort()
            else:
                writer.close()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut or self._closed:
            writer.transport.abort()
            return
        task = self._spawn(self._connect(reader, writer))
        self._connecting[task] = writer
        task.add_done_callback(lambda done: self._connecting.pop(done, None))

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                up_reader, up_writer = await asyncio.open_connection(*self._target)
        except (OSError, TimeoutError) as exc:
            log.warning("uplink %s: target unreachable: %s", self._where, str(exc) or "timed out")
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        self._spawn(self._pipe(reader, up_writer, pair))
        self._spawn(self._pipe(up_reader, writer, pair))

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: _Pair
    ) -> None:
        """Copy one direction until either side closes, then close both (gracefully unless
        :meth:`cut` already aborted them)."""
        try:
            while (data := await reader.read(CHUNK_BYTES)) and not writer.is_closing():
                writer.write(data)
                await writer.drain()
        except OSError as exc:  # reset, or timed out: the other side is closed just the same
            log.debug("uplink %s: relayed connection failed: %s", self._where, exc)
        finally:
            self._close(pair, abort=False)
