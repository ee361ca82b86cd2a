"""Waiting in asyncio loops that a stop or a change must cut short."""

from __future__ import annotations

import asyncio
import contextlib


async def wait_event(event: asyncio.Event, seconds: float | None) -> None:
    """Until ``event`` is set or ``seconds`` passed (None: no limit), whichever comes first.

    ``asyncio.timeout`` rather than ``asyncio.wait_for``: on Python 3.11 ``wait_for`` can
    swallow a cancellation that races with the event being set, which would leave a task
    running after it was told to stop.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
