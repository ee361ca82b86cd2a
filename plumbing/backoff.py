"""Reconnect delays: exponential growth with full jitter.

After the n-th failure in a row the delay is drawn uniformly from ``[0, min(max_s, first_s
· 2ⁿ)]`` ("full jitter"): many clients that lost the same broker at the same moment spread
their reconnects over the whole window instead of arriving together.
"""

from __future__ import annotations

import random

_MAX_DOUBLINGS = 32


class Backoff:
    """Delays before the next reconnect attempt; :meth:`reset` once a connection holds.

    The first delay is drawn from ``[0, first_s]``; every further failure doubles the
    ceiling, up to ``max_s``.
    """

    def __init__(self, first_s: float, max_s: float, *, rng: random.Random | None = None) -> None:
        if not 0 < first_s <= max_s:  # NaN too
            raise ValueError(f"need 0 < first_s <= max_s, got {first_s} and {max_s}")
        self.first_s = first_s
        self.max_s = max_s
        self._failures = 0
        self._random = rng or random.Random()

    @property
    def ceiling(self) -> float:
        """The longest delay the next call to :meth:`next` may return."""
        return min(self.max_s, self.first_s * 2.0**self._failures)

    def next(self) -> float:
        """The delay before the next attempt, and one more failure counted."""
        delay: float = self._random.uniform(0, self.ceiling)
        self._failures = min(self._failures + 1, _MAX_DOUBLINGS)
        return delay

    def reset(self) -> None:
        """A connection succeeded: the next failure starts from ``first_s`` again."""
        self._failures = 0
