"""Telemetry for charts: raw readings and Linli's own roll-ups, in the SQL database or in
InfluxDB (:mod:`cloud.telemetry.store`), kept by :mod:`cloud.telemetry.upkeep` and read by
:mod:`cloud.telemetry.charts`; and the utilisation figures read from them
(:mod:`cloud.telemetry.utilisation`, :mod:`cloud.telemetry.usage`).

It may import ``cloud.db``, ``cloud.register`` (scopes of facilities), ``cloud.config`` and
``cloud.metrics``, with ``plumbing`` and ``device_profiles``; never ``ingest`` (which writes
through the store), ``repair``, ``notify`` or ``access``, the wiring (``app``,
``services``, ``cli``) or the doors (``api``, ``web``).
"""
