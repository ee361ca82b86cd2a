"""Notifications of ticket events: the transactional outbox (``notices``, written with the
events by :func:`cloud.repair.events.record`), fanned out into deliveries by channel —
webhooks, e-mail, MQTT push — sent at least once with an idempotency key, and the live
stream of events for the web UI. See docs/repair-loop.md, Notifications."""
