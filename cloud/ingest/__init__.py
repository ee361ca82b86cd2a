"""Ingest: edge batches from the cloud broker into storage, health and tickets.

``transport`` (the MQTT subscription and acknowledgements) → ``worker`` (one message at a
time, retries, acknowledgement after commit; restarted by ``supervisor``) → ``intake``
(validate, store with ``writer``, or keep with ``dead_letters``) → ``acks`` (what the gateway
is told). ``failures`` tells the database's failures from the message's; ``replay`` feeds
dead letters through ``intake`` again.

It may import ``cloud.db``, ``cloud.repair`` (the ticket desk), ``cloud.telemetry`` (the
store and the roll-up marks), ``cloud.health`` (the health engine), ``cloud.config`` and
``cloud.metrics``, with ``plumbing`` and ``device_profiles``; not ``register``, ``access``
or ``notify`` — work people wait for follows the commit, from the outbox — and never the
wiring (``app``, ``services``, ``cli``) or the doors (``api``, ``web``). Of ingest, other
parts import ``transport`` (``notify``: the cloud's one MQTT module), ``devices`` and
``staged_devices`` (``health``: a device's state, and how much of it a group changed).
Its bulk statements are the database's (:mod:`cloud.db.bulk`).
"""
