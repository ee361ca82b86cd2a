"""The REST API under ``/api/v1``: a router per resource (``routers/``), the public shapes
(``schemas/``), exports as CSV or JSON (``exports/``), and what the routers share —
dependencies (``deps``), request bodies (``bodies``), paging, periods, the one error format
(``problems``), the checks of what a write names (``references``) and a ticket move as the
doors make it (``moves``, the web's buttons too).

It is a door: it may import the domain, ``cloud.services`` and ``cloud.queries``; never
``cloud.web``, ``cloud.app`` or ``cloud.cli``. The domain never imports it; ``cloud.queries``
and the web UI use ``deps``, ``moves`` and ``schemas``, and only the wiring imports
``routers``. Inside it, ``schemas`` imports no other part of the API, and the rest never
imports ``routers`` (``tests/test_layering.py``). Some routers still add and delete
register rows themselves, rather than through the domain.
"""
