"""Pacing for long computations in a background thread of a busy process.

CPython hands the interpreter between threads every few milliseconds, but a thread that
blocks often — a receiver reading its socket, a writer stepping through SQLite — gives it up
at every system call and then waits a whole switch interval behind a thread that computes, at
every one of them. A few seconds of roll-ups beside ingest made ingest's acknowledgements a
second late that way. A :class:`Pacer` called from the computing loop sleeps now and then,
which lets go of the interpreter altogether: the others run at full speed meanwhile.
"""

from __future__ import annotations

import time

__all__ = ["Pacer"]


class Pacer:
    """Call it often from a loop: once ``work_s`` has passed since its last rest, it sleeps
    ``rest_s``. At the defaults the loop takes about twice as long and the process's other
    threads get half of its time whenever they want it."""

    __slots__ = ("_since", "rest_s", "work_s")

    def __init__(self, work_s: float = 0.005, rest_s: float = 0.005) -> None:
        if work_s <= 0 or rest_s < 0:
            raise ValueError("a pacer works for a positive time and rests for none or more")
        self.work_s = work_s
        self.rest_s = rest_s
        self._since = time.monotonic()

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._since >= self.work_s:
            time.sleep(self.rest_s)
            self._since = time.monotonic()


def unpaced() -> None:
    """A pace that never rests: for a computation nothing waits beside."""
