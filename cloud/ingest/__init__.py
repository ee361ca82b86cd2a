"""Ingest: edge batches from the cloud broker into storage, health and tickets.

``transport`` (the MQTT subscription and acknowledgements) → ``worker`` (one message at a
time, retries, acknowledgement after commit; restarted by ``supervisor``) → ``intake``
(validate, store with ``writer``, or keep with ``dead_letters``) → ``acks`` (what the gateway
is told). ``failures`` tells the database's failures from the message's; ``replay`` feeds
dead letters through ``intake`` again.
"""
