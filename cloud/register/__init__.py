"""The register: communities, zones and buildings, facilities, devices, gateways, people —
and the site files that describe them (format: :mod:`device_profiles.site`): devices bound to
and moved between facilities (``binding``), gateways provisioned and retired (``gateways``),
site files applied (``sites``) and written back (``site_export``; ``linli site``: ``cli``),
and which facilities a figure counts and how it groups them (``scope``).

It may import ``cloud.db`` (with ``cloud.config``, ``cloud.metrics``, ``plumbing`` and
``device_profiles``); never ``access``, ``repair``, ``notify``, ``telemetry`` or ``ingest``,
the wiring (``app``, ``services``, ``cli``) or the doors (``api``, ``web``): ``repair`` and
``telemetry`` build on it. Tolerated today, to be removed (``tests/test_layering.py``):
``binding``, ``sites`` and ``cli`` use :class:`cloud.repair.desk.TicketDesk` (binding a
device opens its facility's tickets).
"""
