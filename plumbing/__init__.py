"""Plumbing that every Linli component needs and that is not part of the open standard.

What it holds, one idea a module:

- :mod:`plumbing.backoff` — reconnect delays, exponential with full jitter;
- :mod:`plumbing.durations` — durations as people write them: ``90s``, ``1h30m``, ``2d``;
- :mod:`plumbing.issues` — a problem located as ``file:line: field: message``, and pydantic
  validation errors turned into such issues or into a one-line summary;
- :mod:`plumbing.yamlfile` — reading a YAML mapping while keeping each node's line;
- :mod:`plumbing.payloads` — a message payload in a JSON document, as text or as base64;
- :mod:`plumbing.mqtt` — MQTT for asyncio on paho-mqtt, with acknowledgement after the
  fact, kept sessions and receive maximum: a package, the only place Linli calls paho;
- :mod:`plumbing.tasks` — waiting in asyncio loops that a stop or a change must cut short;
- :mod:`plumbing.pacing` — long computations in a background thread that leave the
  interpreter to the process's other threads now and then;
- :mod:`plumbing.settings` — command-line options generated from a pydantic-settings model,
  so an option, its environment variable and its default are declared once;
- :mod:`plumbing.heap` — the garbage collector tuned for a long-running process that makes
  many short-lived objects.

It sits beside :mod:`device_profiles` on the ground floor and imports nothing of Linli's:
``device_profiles``, ``edge_agent``, ``cloud``, ``simulators`` and ``linli`` may import it
(``tests/test_layering.py``).
"""
