"""Small asyncio helpers for the agent's long-running loops."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from plumbing.tasks import wait_event as wait_event


async def wait_all(*events: asyncio.Event) -> None:
    """Until every one of ``events`` is set."""
    for event in events:
        await event.wait()


async def first_to_finish(*coroutines: Coroutine[Any, Any, object]) -> None:
    """Run ``coroutines`` concurrently until one finishes; cancel the others.

    Re-raises the exception of the one that finished first, if it failed.
    """
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if task in done and not task.cancelled() and (error := task.exception()) is not None:
            raise error
