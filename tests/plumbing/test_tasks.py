"""wait_event: until an event is set or a delay passed; a cancellation always gets through."""

from __future__ import annotations

import asyncio
import time

import pytest

from plumbing.tasks import wait_event


async def test_a_wait_ends_when_the_delay_passes() -> None:
    event = asyncio.Event()
    started = time.monotonic()
    await wait_event(event, 0.05)
    assert 0.04 < time.monotonic() - started < 1
    assert not event.is_set()


async def test_a_wait_ends_when_the_event_is_set() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, event.set)
    started = time.monotonic()
    await wait_event(event, 10)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("seconds", [None, 0, -1.0, 10])
async def test_an_event_already_set_ends_the_wait_at_once(seconds: float | None) -> None:
    event = asyncio.Event()
    event.set()
    async with asyncio.timeout(1):
        await wait_event(event, seconds)


async def test_a_delay_not_ahead_ends_the_wait_at_once() -> None:
    async with asyncio.timeout(1):
        await wait_event(asyncio.Event(), -1.0)


async def test_without_a_delay_only_the_event_ends_the_wait() -> None:
    event = asyncio.Event()
    waiting = asyncio.create_task(wait_event(event, None))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    event.set()
    async with asyncio.timeout(1):
        await waiting


async def test_a_cancellation_in_the_same_step_as_the_event_is_not_swallowed() -> None:
    # asyncio.wait_for on Python 3.11 returns normally here, and the task runs on
    event = asyncio.Event()
    waiting = asyncio.create_task(wait_event(event, 10))
    await asyncio.sleep(0)
    event.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
