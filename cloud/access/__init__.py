"""Who may do what: accounts and roles, web sessions with CSRF tokens, API tokens with
scopes, the operator admin made at first start, and login rate limits; and who may use the
cloud broker — its accounts, password file and ACL (``linli broker``, ``linli gateway``).

It may import ``cloud.db`` (with ``cloud.config``, ``cloud.metrics``, ``plumbing`` and
``device_profiles``) and nothing else of the cloud: the rest of the domain checks
permissions with it (``roles``), so it sits just above ``db`` and never imports
``register``, ``repair``, ``notify``, ``telemetry`` or ``ingest``, the wiring (``app``,
``services``) or the doors (``api``, ``web``). Today's exception, to be removed: ``cli``
(the gateway commands) imports ``cloud.register``.
"""
