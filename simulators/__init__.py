"""Simulated devices generated from the device profiles, speaking each vendor's dialect.

- :mod:`simulators.device` — one device and the payloads it sends (pure);
- :mod:`simulators.community` — generating a community, and the :class:`Simulator` loop;
- :mod:`simulators.faults` — control messages and random faults;
- :mod:`simulators.recording` — recordings of device traffic and replay timing (no MQTT);
- :mod:`simulators.transport` — MQTT (the only module that uses aiomqtt): shared or
  per-device connections;
- :mod:`simulators.cli` — ``linli sim``.

Imports ``device_profiles`` only and talks to the rest of Linli over MQTT. Kept free of
imports so that ``linli --help`` stays fast.
"""
