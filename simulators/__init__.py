"""Simulated devices generated from the device profiles, speaking each vendor's dialect.

- :mod:`simulators.device` — one device: identity, topic, its profile's example payloads;
- :mod:`simulators.community` — generating a community (devices, zones);
- :mod:`simulators.behaviour`, :mod:`simulators.daylight` — how each device type behaves
  over simulated time (pure);
- :mod:`simulators.live` — a running device: behaviour + fault → vendor payload (pure);
- :mod:`simulators.clock` — the simulated clock;
- :mod:`simulators.faults` — control messages; :mod:`simulators.scenario` — scripted and
  random faults (YAML);
- :mod:`simulators.simulator` — the :class:`~simulators.simulator.Simulator` loop;
- :mod:`simulators.uplink` — the gateway's uplink, which the simulator can cut;
- :mod:`simulators.recording` — recordings of device traffic and replay timing (no MQTT);
- :mod:`simulators.transport` — MQTT (the only module that uses aiomqtt): shared or
  per-device connections;
- :mod:`simulators.cli` and ``cli_*`` — ``linli sim``.

Imports ``device_profiles`` only and talks to the rest of Linli over MQTT. Kept free of
imports so that ``linli --help`` stays fast.
"""
