"""Notifications of ticket events: the transactional outbox (``notices``, written with the
events by :func:`cloud.repair.events.record`), fanned out into deliveries by channel —
webhooks, e-mail, MQTT push — sent at least once with an idempotency key, and the live
stream of events for the web UI. See docs/repair-loop.md, Notifications.

It may import ``cloud.db``, ``cloud.access`` (roles), ``cloud.ingest.transport`` (the
cloud's one MQTT module, for push), ``cloud.config`` and ``cloud.metrics``, with
``plumbing`` and ``device_profiles``; never ``repair``, ``register``, ``telemetry`` or the
rest of ``ingest``, the wiring (``app``, ``services``, ``cli``) or the doors (``api``,
``web``). The repair loop imports only ``rules`` of it: which events notify is decided
here, sending happens after the commit.
"""
