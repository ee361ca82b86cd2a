"""Every simulated device over a few shared MQTT connections (``--connection-mode shared``)."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence

from simulators.faults import CONTROL_TOPIC
from simulators.transport.link import (
    CONNECT_TIMEOUT_S,
    DEFAULT_CONNECT_CONCURRENCY,
    RECONNECT_MAX_S,
    Connections,
    connect_gate,
    unique_client_id,
)

log = logging.getLogger(__name__)


class SharedConnection(Connections):
    """Every simulated device multiplexed over ``connections`` MQTT connections.

    ``devices`` are spread over the connections round-robin in the order given (a device
    not listed goes by a hash of its id). The first connection also subscribes to the
    control topic and the devices' command topics. An async context manager: on entry every
    connection connects (and the first subscribes), TransportError if one cannot;
    afterwards each reconnects on its own. Devices have no connection of their own, so
    :meth:`drop` only silences (the simulator stops publishing for the device) and no will
    is published.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connections: int = 1,
        devices: Sequence[str] = (),
        control_topic: str = CONTROL_TOPIC,
        command_filters: Sequence[str] = (),
        client_id: str | None = None,
        timeout_s: float = CONNECT_TIMEOUT_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
        connect_concurrency: int = DEFAULT_CONNECT_CONCURRENCY,
    ) -> None:
        if connections < 1:
            raise ValueError(f"connections must be at least 1, got {connections}")
        super().__init__(host, port, timeout_s=timeout_s, reconnect_max_s=reconnect_max_s)
        self.control_topic = control_topic
        self.subscriptions = (control_topic, *dict.fromkeys(command_filters))
        base = client_id or unique_client_id("shared")
        self.client_ids = (
            (base,) if connections == 1 else tuple(f"{base}-{i}" for i in range(connections))
        )
        self._assigned = {device_id: i % connections for i, device_id in enumerate(devices)}
        self._concurrency = connect_concurrency

    @property
    def client_id(self) -> str:
        """The client id of the first connection (the one with the subscriptions)."""
        return self.client_ids[0]

    def connection_of(self, device_id: str) -> int:
        """Index of the connection that carries ``device_id``'s messages."""
        index = self._assigned.get(device_id)
        if index is None:
            index = zlib.crc32(device_id.encode()) % len(self.client_ids)
        return index

    async def __aenter__(self) -> SharedConnection:
        gate = connect_gate(self._concurrency)
        first, *others = self.client_ids
        links = [
            self._link(first, gate, subscriptions=self.subscriptions, on_message=self._deliver),
            *(self._link(client_id, gate) for client_id in others),
        ]
        await self._start(links, ready=links)
        log.info(
            "connected to %s:%d over %d connection(s)", self.host, self.port, len(self.client_ids)
        )
        return self

    async def publish(self, device_id: str, topic: str, payload: bytes, qos: int) -> None:
        await self._started()[self.connection_of(device_id)].publish(topic, payload, qos)

    def drop(self, device_id: str) -> None:
        """Nothing to cut: the device shares its connection with others."""

    def restore(self, device_id: str) -> None:
        """Nothing to restore (see :meth:`drop`)."""
