"""What the benchmarks share to see where a process spends its time: its CPU so far, and
py-spy recordings of it summarised by function. py-spy is not a dependency of Linli:
``pip install py-spy`` into the virtualenv to record."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int:
    """User + system CPU of process ``pid`` so far, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    return cpu_ticks(pid) / CLOCK_TICKS


def record(pid: int, output: str) -> subprocess.Popen[bytes]:
    """py-spy recording ``pid`` (every thread, without pausing it) to ``output``."""
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy) if spy.exists() else "py-spy", "record", "--pid", str(pid),
               "--rate", "200", "--threads", "--nonblocking", "--format", "raw",
               "-o", output]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def spying(pid: int, prefix: Path | None, name: str) -> Iterator[None]:
    """While the block runs, py-spy records ``pid`` to ``{prefix}.{name}.txt`` (if a prefix
    is given)."""
    if prefix is None:
        yield
        return
    prefix.parent.mkdir(parents=True, exist_ok=True)  # py-spy writes nothing, silently, else
    spy = record(pid, f"{prefix}.{name}.txt")
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()


def top(path: Path, rows: int = 40) -> str:
    """The functions of a py-spy raw recording by their share of the samples: inclusive
    (the function or what it called was running) and self (it was)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        total += int(count)
        threads[frames[0]] += int(count)
        for frame in set(frames[1:]):
            inclusive[frame] += int(count)
        own[frames[-1]] += int(count)
    lines = [f"{total} samples"] + [f"{100 * n / total:5.1f} %  {t}" for t, n in threads.items()]
    for title, counts in (("inclusive", inclusive), ("self", own)):
        lines.append(f"--- {title}")
        lines += [f"{100 * n / total:5.1f} %  {f}" for f, n in counts.most_common(rows)]
    return "\n".join(lines)
