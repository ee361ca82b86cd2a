"""Telemetry for charts: raw readings and Linli's own roll-ups, in the SQL database or in
InfluxDB (:mod:`cloud.telemetry.store`), kept by :mod:`cloud.telemetry.upkeep` and read by
:mod:`cloud.telemetry.charts`."""
