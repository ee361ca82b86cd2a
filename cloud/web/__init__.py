"""The built-in web UI: plain server-rendered pages, no CDN, no build step.

Log-in and ticket moves (``pages``); the manager dashboard (``dashboard``, its charts drawn as
SVG on the server, ``charts_svg``); the maintainer's view for a phone (``maintainer``); the
resident page behind each facility's QR code (``resident``) and the photos people attach
(``photos``); pages in the viewer's language (``render``, ``i18n``, ``labels``, ``words``),
with ``templates/``, ``static/`` and the message catalogues in ``locales/``.

It is a door: it may import the domain, ``cloud.services``, ``cloud.queries`` and, of the
API, ``deps``, ``moves`` and ``schemas``; never ``cloud.app`` or ``cloud.cli``, and only the
wiring imports it (``tests/test_layering.py``). It writes through the domain, never to the
database directly.
"""
