"""Simulated devices generated from the device profiles, speaking each vendor's dialect.

- :mod:`simulators.device` — one device: identity, topic, its profile's example payloads;
- :mod:`simulators.community` — generating a community (devices, zones);
- :mod:`simulators.behaviour`, :mod:`simulators.daylight` — how each device type behaves
  over simulated time (pure);
- :mod:`simulators.live` — a running device: behaviour + fault → vendor payload (pure);
- :mod:`simulators.clock` — the simulated clock (durations as people write them, ``90s``,
  ``1h30m``, are :mod:`plumbing.durations`');
- :mod:`simulators.faults` — control messages; :mod:`simulators.scenario` — scripted and
  random faults (YAML): what a scenario is, reading one, the devices its events target;
- :mod:`simulators.simulator` — the :class:`~simulators.simulator.Simulator` loop, on the
  timetable of :mod:`simulators.schedule`; :mod:`simulators.injection` — the faults it
  carries out;
- :mod:`simulators.uplink` — the gateway's uplink, which the simulator can cut;
- :mod:`simulators.recording` — recordings of device traffic and replay timing (no MQTT);
- :mod:`simulators.transport` — MQTT (the only package that uses an MQTT client library):
  shared or per-device connections, supervised and reconnected;
- :mod:`simulators.config` — the settings of ``linli sim`` (options and ``LINLI_SIM_*``
  variables); :mod:`simulators.cli` and ``cli_*`` — ``linli sim``.

Imports ``device_profiles`` and ``plumbing`` only and talks to the rest of Linli over MQTT:
never ``edge_agent``, ``cloud`` or ``linli``. Inside, the sub-packages stay below the loop:
``behaviour`` (pure) imports only ``daylight`` and ``device`` of the simulator,
``scenario`` and ``transport`` only ``device`` and ``faults``; none of them imports another,
or the loop (``simulator``, ``injection``) or the CLI, which may import any part
(``tests/test_layering.py``). Kept free of imports so that ``linli --help`` stays fast.
"""
