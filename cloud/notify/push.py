"""MQTT push: notices published on the cloud broker (QoS 1) for integrations — a building's
message board subscribes to its community's topic, a maintainer's phone app to theirs:

- ``linli/community/<community>/notices/<kind>``: every notice of the community;
- ``linli/community/<community>/people/<person>/notices/<kind>``: those that concern a
  person who chose MQTT among their channels.

The payload is the notice's JSON body with its idempotency key under ``delivery``. Every
MQTT call goes through the cloud's one MQTT module (:class:`cloud.ingest.transport.Publisher`).
Who may subscribe to which topic is the broker's ACL, which Linli writes: an integration's
account (``linli broker integration``) reads only its community's topics
(:mod:`cloud.access.broker`).
"""

from __future__ import annotations

from cloud.ingest import transport
from cloud.notify.senders import DeliveryFailed, Outgoing, payload

PREFIX = "linli/community"


def community_topic(community: str, kind: str) -> str:
    """Where every notice of ``community`` (its slug) is published."""
    return f"{PREFIX}/{community}/notices/{kind}"


def person_topic(community: str, person: str, kind: str) -> str:
    """Where the notices that concern ``person`` (their slug) are published for them."""
    return f"{PREFIX}/{community}/people/{person}/notices/{kind}"


class PushSender:
    """Publishes a delivery on its topic; returns once the broker has it (PUBACK)."""

    def __init__(self, publisher: transport.Publisher) -> None:
        self._publisher = publisher

    async def send(self, outgoing: Outgoing) -> None:
        try:
            await self._publisher.publish([(outgoing.address, payload(outgoing))])
        except transport.MqttError as exc:
            raise DeliveryFailed(f"MQTT: {exc}") from None

    async def close(self) -> None:
        await self._publisher.close()
