"""The repair loop: a ticket's lifecycle and moves, dispatch, SLA and escalation in business
time, verification by the facility's own data; zone and gateway tickets, maintenance windows
and preventive plans, residents' reports, photos, and the repair figures (MTTR, MTBF, SLA).

It may import ``cloud.db``, ``cloud.access`` (roles), ``cloud.register`` (scopes of
facilities), ``cloud.notify.rules`` (which events notify; their outbox rows are written
here, in the event's transaction), ``cloud.config`` and ``cloud.metrics``, with ``plumbing``
and ``device_profiles``; never ``ingest``, ``telemetry`` or the rest of ``notify``, the
wiring (``app``, ``services``, ``cli``) or the doors (``api``, ``web``). ``ingest``,
``cloud.health`` and the silence sweep call its desk; ``db`` (the ticket states) and
``register`` (the desk) importing it are tolerated today, to be removed.
"""
