"""The garbage collector tuned for a long-running process that makes many short-lived objects.

CPython's cyclic collector runs a young collection every 700 container allocations, and an
older one every ten young ones, each walking every object of its generations. A service
that parses thousands of messages a second allocates that many containers in well under
a millisecond, while everything made at start-up (modules, the ORM's mappings, the
catalogue, compiled rules) is walked again and again for nothing. :func:`settle_heap`,
called once start-up is done, moves what exists into the permanent generation
(``gc.freeze``), which no collection walks, and lets young collections run less often.
Reference counting still frees almost everything at once; the collector is only for cycles.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Container allocations (less deallocations) between two young collections."""


def settle_heap(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """After start-up: collect once, freeze what is left, collect the young less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
