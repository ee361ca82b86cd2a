"""The collector settles for a long run: start-up's objects frozen, young collections rarer."""

from __future__ import annotations

import subprocess
import sys


def test_settling_freezes_what_start_up_made_and_collects_the_young_less_often() -> None:
    # in a process of its own: the collector's settings are the whole process's
    program = (
        "import gc\n"
        "from plumbing.heap import YOUNG_THRESHOLD, settle_heap\n"
        "made = [[n] for n in range(1000)]\n"
        "assert gc.get_freeze_count() == 0\n"
        "settle_heap()\n"
        "assert gc.get_freeze_count() >= len(made), gc.get_freeze_count()\n"
        "assert gc.get_threshold()[0] == YOUNG_THRESHOLD, gc.get_threshold()\n"
        "assert gc.isenabled()\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
