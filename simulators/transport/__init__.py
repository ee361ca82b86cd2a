"""MQTT for the simulator: how simulated devices reach the broker.

The simulator publishes through a :class:`Transport` and receives through it the control
topic's messages and the commands sent to its devices. Every connection is a
:class:`plumbing.mqtt.Client` (the MQTT client of every Linli component) speaking MQTT
3.1.1, as many real devices do; what is here is the simulator's own: supervision, connection
modes, and the open-file limit. Its modules, one idea each:

- :mod:`~simulators.transport.link` — connection supervision: a :class:`Link` reconnects
  after a backoff with full jitter and can be held down (cut without DISCONNECT, so the
  broker publishes the will); :class:`Connections`, the links of one transport started and
  closed together;
- :mod:`~simulators.transport.shared` — :class:`SharedConnection`: every device over a few
  connections (one by default), round-robin; the first also carries the subscriptions;
- :mod:`~simulators.transport.per_device` — :class:`DeviceConnections`: a connection per
  device, with the device id as client id and a last will (``offline`` on
  ``linli/sim/lwt/<device_id>``, QoS 1, not retained), plus one for the subscriptions;
- :mod:`~simulators.transport.single` — one connection for one job of ``linli sim``:
  :class:`Subscription` (record), :class:`Publisher` (replay), :func:`publish_once`;
- :mod:`~simulators.transport.open_files` — the open-file limit so many sockets need.

At most ``connect_concurrency`` connections of one transport are being set up at any moment.

It imports ``plumbing`` (its MQTT client, backoff) and, of the simulator, only
:mod:`simulators.device` and :mod:`simulators.faults` (the control topic): never the
behaviours, the scenarios or the loop that publishes through it (``tests/test_layering.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from simulators.transport.link import (
    CONNECT_TIMEOUT_S,
    DEFAULT_CONNECT_CONCURRENCY,
    FIRST_RECONNECT_S,
    RECONNECT_MAX_S,
    TransportError,
)
from simulators.transport.open_files import OpenFileLimit, ensure_open_files
from simulators.transport.per_device import (
    WILL_PAYLOAD,
    WILL_TOPIC,
    DeviceConnections,
    will_topic,
)
from simulators.transport.shared import SharedConnection
from simulators.transport.single import Publisher, Subscription, publish_once


class Transport(Protocol):
    """How simulated devices reach the broker and the simulator receives control messages."""

    async def publish(self, device_id: str, topic: str, payload: bytes, qos: int) -> None:
        """Publish ``payload`` on ``topic`` on behalf of ``device_id``; TransportError if lost."""
        ...

    def incoming(self) -> AsyncIterator[tuple[str, bytes]]:
        """(topic, payload) of messages on the control topic and the devices' command topics."""
        ...

    def drop(self, device_id: str) -> None:
        """Cut ``device_id`` off without an MQTT DISCONNECT, until :meth:`restore`."""
        ...

    def restore(self, device_id: str) -> None:
        """Let ``device_id`` connect again after :meth:`drop`."""
        ...


__all__ = [
    "CONNECT_TIMEOUT_S",
    "DEFAULT_CONNECT_CONCURRENCY",
    "FIRST_RECONNECT_S",
    "RECONNECT_MAX_S",
    "WILL_PAYLOAD",
    "WILL_TOPIC",
    "DeviceConnections",
    "OpenFileLimit",
    "Publisher",
    "SharedConnection",
    "Subscription",
    "Transport",
    "TransportError",
    "ensure_open_files",
    "publish_once",
    "will_topic",
]
