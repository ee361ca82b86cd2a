"""One connection for one job of the ``linli sim`` commands: recording what a broker
carries (:class:`Subscription`), replaying it (:class:`Publisher`), sending one control
message (:func:`publish_once`)."""

from __future__ import annotations

from collections.abc import Sequence

from plumbing.mqtt import Client, Message, MqttError
from simulators.transport.link import (
    CONNECT_TIMEOUT_S,
    MQTT_VERSION,
    Connections,
    OnMessage,
    TransportError,
    connect_gate,
    unique_client_id,
)


class Subscription(Connections):
    """One connection subscribed with QoS 1 to ``filters``, handing each message to
    ``on_message(topic, payload)``; an async context manager that reconnects by itself
    (messages sent while it is disconnected are missed). TransportError on entry if the
    broker cannot be reached."""

    def __init__(
        self,
        host: str,
        port: int,
        filters: Sequence[str],
        on_message: OnMessage,
        *,
        timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        super().__init__(host, port, timeout_s=timeout_s)
        self.filters = tuple(filters)
        self._on_message = on_message

    async def __aenter__(self) -> Subscription:
        link = self._link(
            unique_client_id("record"),
            connect_gate(1),
            subscriptions=self.filters,
            on_message=self._hand_over,
        )
        await self._start([link], ready=[link])
        return self

    def _hand_over(self, message: Message) -> None:
        self._on_message(message.topic, message.payload)


class Publisher(Connections):
    """One connection for publishing on any topic; an async context manager.

    Messages are sent in the order :meth:`publish` is called, also while several are
    awaiting their acknowledgement. TransportError on entry if the broker cannot be reached.
    """

    async def __aenter__(self) -> Publisher:
        link = self._link(unique_client_id("replay"), connect_gate(1))
        await self._start([link], ready=[link])
        return self

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        (link,) = self._started()
        await link.publish(topic, payload, qos)


async def publish_once(
    host: str, port: int, topic: str, payload: bytes, *, timeout_s: float = 5.0
) -> None:
    """Connect, publish one message with QoS 1, disconnect; TransportError on failure."""
    client = Client(
        host, port, client_id=unique_client_id("cli"), protocol=MQTT_VERSION, timeout_s=timeout_s
    )
    try:
        async with client:
            await client.publish(topic, payload, qos=1)
    except MqttError as exc:
        raise TransportError(f"cannot publish to MQTT broker {exc}") from None
