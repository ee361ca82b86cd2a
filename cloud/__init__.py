"""Linli cloud: ingest, facility health, the repair loop, notifications, the REST API and
the web UI — one package, run as API processes and ingest workers (``linli cloud``).

What it holds, by folder (``../shared/DESIGN.md``, "How the cloud grows"):

- ``ingest/`` edge batches from the cloud broker into storage, health and tickets;
- ``register/`` communities, zones, facilities, devices, gateways, people, site files;
- ``access/`` accounts, roles, sessions, tokens, and the cloud broker's accounts and ACL;
- ``repair/`` tickets and their lifecycle, dispatch, SLA, verification, residents' reports;
- ``notify/`` the outbox of ticket events and its channels;
- ``telemetry/`` readings and roll-ups for charts and figures, in SQL or InfluxDB;
- ``api/`` the REST API, ``web/`` the people's views, ``db/`` tables and migrations;
- at the top: the app factory (``app``), settings (``config``) and their command-line
  options (``options``), the services a process shares (``services``), metrics, the silence
  sweep and the CLI; the health engine
  (``health``), the read side the API and the web UI share (``queries``) and the API
  process's gauges (``state_metrics``).

It may import ``plumbing`` and ``device_profiles``, never ``edge_agent`` or ``simulators``:
it talks to gateways only over MQTT. Within it, the domain's folders (``ingest``,
``register``, ``access``, ``repair``, ``notify``, ``telemetry``, ``db``) never import ``api``
or ``web``: those are the doors, and the domain does not know them (both rules:
``tests/test_layering.py``).

Within the domain, from the bottom up: ``db`` imports no other part; ``access`` and
``register`` only ``db``; ``notify`` ``db``, ``access`` and the one MQTT module
(``ingest.transport``); ``repair`` ``db``, ``access``, ``register`` and ``notify.rules``;
``telemetry`` ``db`` and ``register``; ``ingest`` ``db``, ``repair``, ``telemetry`` and
``health``. Every part may import ``config``, ``options`` and ``metrics``; no part of the
domain imports the wiring (``app``, ``services``, ``cli``) or the doors' side (``api``,
``web``, ``queries``, ``state_metrics``). The doors may import the domain, ``services`` and
``queries``; ``api`` never imports ``web``, and only the wiring imports ``api.routers``. Each
folder's docstring says its part; the imports that break a rule today are listed, to be
removed, in the test's ``TOLERATED``.
"""
