"""Relational storage (SQLite or PostgreSQL): the tables, a module per part of the domain,
and the engine.

- :mod:`~cloud.db.base` — the declarative base of every table, and how times are stored;
- :mod:`~cloud.db.register` (communities, zones, people, calendars, SLA classes),
  :mod:`~cloud.db.facilities` (gateways, facilities, devices and their bindings),
  :mod:`~cloud.db.readings` (readings, batches, gaps, dead letters, roll-ups),
  :mod:`~cloud.db.tickets` (the repair loop, and the states a ticket is in),
  :mod:`~cloud.db.notices` (the outbox, its deliveries, webhooks), :mod:`~cloud.db.access`
  (accounts, sessions, tokens, broker accounts);
- :mod:`~cloud.db.models` — every table, in one import;
- :mod:`~cloud.db.bulk` — the hot path's statements, compiled once, and values as the driver
  takes them (ingest and the roll-ups write through it);
- :mod:`~cloud.db.engine` — engines, sessions and migrations (Alembic, run from code; the
  scripts are in ``cloud/migrations``).

It is the cloud's floor: it may import ``plumbing`` and ``device_profiles`` and no other part
of the cloud, and every part above may import it (``tests/test_layering.py``).
"""
