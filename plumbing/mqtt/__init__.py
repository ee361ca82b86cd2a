"""MQTT for asyncio, on paho-mqtt, with the control over acknowledgements Linli needs.

:class:`Client` is an async context manager around one connection, MQTT 5 by default or
MQTT 3.1.1 (``protocol="3.1.1"``, as many real devices speak it). Beyond what most asyncio
MQTT clients offer, it can leave the acknowledgement of a received QoS 1 message to the
application (``manual_ack=True``, then :meth:`Client.ack` once the message is stored), keep a
session (``clean_start=False`` with ``session_expiry_s``) and bound what the broker sends
ahead of those acknowledgements (``receive_maximum``) and what it sends ahead of the broker's
(``max_in_flight``). Messages arrive through :meth:`Client.messages`, or, for many
connections in one process, through an ``on_message`` callback that needs no task.
:meth:`Client.wait_lost` says when and why a connection ended; :meth:`Client.abort` ends it
at once without DISCONNECT, as a device losing power would. A connection that ends before the
broker's CONNACK fails at once rather than after a timeout. Every failure is an
:class:`MqttError`.

paho's socket is driven by the asyncio event loop (readers and writers on its socket plus a
task for keep-alive), so every callback runs in the event loop's thread; only the blocking
TCP connect runs in a worker thread.

**Receiving in bulk.** The client reads its socket itself, many packets at once, and cuts
them out of the buffer; a plain PUBLISH becomes a :class:`Message` without paho, every other
packet goes to paho's own handling (:mod:`plumbing.mqtt.driver`). The PUBACKs of a read (or
of the :meth:`Client.ack` calls of one pass of the event loop) go out in one write, in the
order the messages came.

**Publishing in bulk.** :meth:`Client.publish_all` writes a round of QoS 1 messages itself,
many packets in one system call, under message ids from paho's counter, and takes their
PUBACKs out of the read before paho sees them, within the broker's Receive Maximum.

Handing packets on and sharing the message ids use paho's internals, which are not its
public interface: paho-mqtt is pinned to releases 2.1 and 2.2 and the tests against real
Mosquitto exercise every path.

The modules: :mod:`~plumbing.mqtt.client` (:class:`Client`), :mod:`~plumbing.mqtt.driver`
(its socket), :mod:`~plumbing.mqtt.packets` (packets cut from and written to bytes),
:mod:`~plumbing.mqtt.answers` (what waits for the broker's answers),
:mod:`~plumbing.mqtt.access` (login, TLS, will) and :mod:`~plumbing.mqtt.errors`. Every
paho-mqtt call of Linli is in this package; it imports nothing of Linli's outside it.
Import from the package, not its modules.
"""

from plumbing.mqtt.access import ANONYMOUS, BrokerAccess, Will
from plumbing.mqtt.client import Client, MqttVersion, topic_matches
from plumbing.mqtt.driver import READ_BYTES
from plumbing.mqtt.errors import MqttError
from plumbing.mqtt.packets import Message

__all__ = [
    "ANONYMOUS",
    "READ_BYTES",
    "BrokerAccess",
    "Client",
    "Message",
    "MqttError",
    "MqttVersion",
    "Will",
    "topic_matches",
]
