"""The REST API's routers, one per resource under ``/api/v1``, mounted by :mod:`cloud.app`.

A router may import the rest of :mod:`cloud.api` (``deps``, ``schemas``, ``exports``,
``moves``...), the domain, ``cloud.services`` and ``cloud.queries``; never ``cloud.web``,
``cloud.app`` or ``cloud.cli``. Only :mod:`cloud.app` imports the routers
(``tests/test_layering.py``).
"""
