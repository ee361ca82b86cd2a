"""Login attempts, limited: a few failures per user name and per client address in a
window, then ``retry_after`` seconds of refusal (answered 429)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginLimiter:
    def __init__(
        self,
        failures: int = 5,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._failures = failures
        self._window = window_s
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def retry_after(self, *keys: str) -> float:
        """Seconds until a login for ``keys`` may be tried again; 0: now."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            times = self._seen.get(key)
            if times is None:
                continue
            while times and times[0] <= now - self._window:
                times.popleft()
            if len(times) >= self._failures:
                wait = max(wait, times[0] + self._window - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = self._clock()
        for key in keys:
            self._seen.setdefault(key, deque()).append(now)
        if len(self._seen) > 100_000:  # bounded: forget the quiet ones
            for key in [k for k, t in self._seen.items() if not t or t[-1] <= now - self._window]:
                del self._seen[key]

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._seen.pop(key, None)
