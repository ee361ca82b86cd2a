"""One MQTT connection per simulated device, each with a last will
(``--connection-mode per-device``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from plumbing.mqtt import Will
from simulators.faults import CONTROL_TOPIC
from simulators.transport.link import (
    CONNECT_TIMEOUT_S,
    DEFAULT_CONNECT_CONCURRENCY,
    RECONNECT_MAX_S,
    Connections,
    Link,
    TransportError,
    connect_gate,
    unique_client_id,
)

log = logging.getLogger(__name__)

WILL_TOPIC = "linli/sim/lwt/{device_id}"
"""Where the broker announces a device whose own connection dropped."""
WILL_PAYLOAD = b"offline"


def will_topic(device_id: str) -> str:
    """The topic of ``device_id``'s last will."""
    return WILL_TOPIC.format(device_id=device_id)


class DeviceConnections(Connections):
    """One MQTT connection per simulated device, plus one for the control topic.

    Each device connects with its id as client id and a last will (:data:`WILL_PAYLOAD` on
    :func:`will_topic`, QoS 1, not retained), so the broker announces a device whose
    connection drops. An async context manager: on entry every connection starts (at most
    ``connect_concurrency`` connecting at once); entry waits for the control connection only
    (TransportError if it cannot connect) and ``all_up`` is set once every device is
    connected. A device whose connection is still being set up when it publishes waits up to
    the timeout for it; each connection reconnects on its own, with backoff.
    """

    def __init__(
        self,
        host: str,
        port: int,
        devices: Sequence[str],
        *,
        control_topic: str = CONTROL_TOPIC,
        command_filters: Sequence[str] = (),
        timeout_s: float = CONNECT_TIMEOUT_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
        connect_concurrency: int = DEFAULT_CONNECT_CONCURRENCY,
    ) -> None:
        if len(set(devices)) != len(devices):
            raise ValueError("device ids must be unique: each is an MQTT client id")
        super().__init__(host, port, timeout_s=timeout_s, reconnect_max_s=reconnect_max_s)
        self.devices = tuple(devices)
        self.control_topic = control_topic
        self.subscriptions = (control_topic, *dict.fromkeys(command_filters))
        self.control_client_id = unique_client_id("control")
        self.all_up = asyncio.Event()
        """Set while every device's connection is up."""
        self._concurrency = connect_concurrency
        self._by_device: dict[str, Link] = {}
        self._up: set[str] = set()
        self._held: set[str] = set()
        self._started_at = 0.0
        self._announced = False

    @property
    def connected(self) -> int:
        """How many device connections are up now."""
        return len(self._up)

    def connects(self, device_id: str) -> int:
        """How many times ``device_id``'s connection has been established."""
        link = self._by_device.get(device_id)
        return 0 if link is None else link.connects

    def _on_change(self, link: Link) -> None:
        if link.up.is_set():
            self._up.add(link.client_id)
        else:
            self._up.discard(link.client_id)
        if len(self._up) == len(self.devices):
            self.all_up.set()
            if not self._announced:
                self._announced = True
                log.info(
                    "all %d device connections up in %.1fs",
                    len(self.devices),
                    time.monotonic() - self._started_at,
                )
        else:
            self.all_up.clear()

    async def __aenter__(self) -> DeviceConnections:
        gate = connect_gate(self._concurrency)
        control = self._link(
            self.control_client_id,
            gate,
            subscriptions=self.subscriptions,
            on_message=self._deliver,
        )
        self._by_device = {
            device_id: self._link(
                device_id,
                gate,
                will=Will(will_topic(device_id), WILL_PAYLOAD, qos=1, retain=False),
                on_change=self._on_change,
                quiet=True,
            )
            for device_id in self.devices
        }
        for device_id in self._held:
            self._by_device[device_id].hold()
        self._started_at = time.monotonic()
        await self._start([control, *self._by_device.values()], ready=[control])
        log.info(
            "connected to %s:%d; connecting %d devices, %d at a time",
            self.host,
            self.port,
            len(self.devices),
            self._concurrency,
        )
        return self

    async def _close(self) -> None:
        await super()._close()
        self._up.clear()
        self.all_up.clear()

    async def publish(self, device_id: str, topic: str, payload: bytes, qos: int) -> None:
        self._started()
        link = self._by_device.get(device_id)
        if link is None:
            raise TransportError(f"no connection for device {device_id!r}")
        await link.publish(topic, payload, qos)

    def drop(self, device_id: str) -> None:
        """Close the device's socket without DISCONNECT (the broker publishes its will);
        it stays offline until :meth:`restore`."""
        self._held.add(device_id)
        link = self._by_device.get(device_id)
        if link is not None:
            link.hold()

    def restore(self, device_id: str) -> None:
        self._held.discard(device_id)
        link = self._by_device.get(device_id)
        if link is not None:
            link.release()
