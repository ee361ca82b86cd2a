"""The demo's process supervision: children start, are watched, and are stopped completely."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from linli.processes import ProcessGroup, StopRequest, describe_status, log_tail

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")

IGNORES_SIGTERM = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def _live_members(pgid: int) -> list[int]:
    """Processes (not zombies) in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def test_stop_leaves_nothing_running(tmp_path: Path) -> None:
    group = ProcessGroup(tmp_path)
    # a child whose grandchild ignores SIGTERM and outlives it, and a child that ignores SIGTERM
    forking = group.start("forking", ["sh", "-c", "(trap '' TERM; exec sleep 60) & echo $!; wait"])
    stubborn = group.start("stubborn", [sys.executable, "-c", IGNORES_SIGTERM])
    _eventually(lambda: log_tail(forking.log_path).strip().isdigit())
    _eventually(lambda: log_tail(stubborn.log_path) == "ready")
    grandchild = int(log_tail(forking.log_path))
    pgids = [forking.pid, stubborn.pid]
    assert all(_live_members(pgid) for pgid in pgids)
    assert grandchild in _live_members(forking.pid)
    assert group.first_exited() is None

    started = time.monotonic()
    group.stop(timeout=1.0)
    assert time.monotonic() - started < 5.0
    # SIGKILL is sent to each whole group; a grandchild no one waits for dies a moment later
    _eventually(lambda: [_live_members(pgid) for pgid in pgids] == [[], []], timeout=2.0)
    assert forking.process.returncode is not None
    assert stubborn.process.returncode == -signal.SIGKILL
    assert group.children == ()


def test_a_child_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    with ProcessGroup(tmp_path) as group:
        group.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
        group.start("crasher", [sys.executable, "-c", "print('boom'); raise SystemExit(3)"])
        _eventually(lambda: group.first_exited() is not None)
        exited = group.first_exited()
        assert exited is not None
        child, status = exited
        assert (child.name, status) == ("crasher", 3)
        assert log_tail(child.log_path) == "boom"
        # not reaped by the check: asking again gives the same answer
        assert group.first_exited() == (child, 3)
    assert child.process.returncode == 3


def test_a_child_killed_by_a_signal_has_a_negative_status(tmp_path: Path) -> None:
    with ProcessGroup(tmp_path) as group:
        child = group.start("victim", [sys.executable, "-c", "import time; time.sleep(60)"])
        os.kill(child.pid, signal.SIGKILL)
        _eventually(lambda: group.first_exited() is not None)
        assert group.first_exited() == (child, -signal.SIGKILL)


def test_children_need_unique_names(tmp_path: Path) -> None:
    with ProcessGroup(tmp_path) as group:
        group.start("one", ["true"])
        with pytest.raises(ValueError, match="one"):
            group.start("one", ["true"])


def test_stop_request_catches_sigterm() -> None:
    before = signal.getsignal(signal.SIGTERM)
    stop = StopRequest()
    with stop.installed():
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5.0)
    assert stop.signal_name == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before


def test_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    assert "cannot read" in log_tail(log)
    log.write_text("".join(f"line {i}\n" for i in range(30)))
    assert log_tail(log, lines=2) == "line 28\nline 29"
    log.write_text("")
    assert log_tail(log) == "(empty log)"


def test_describe_status() -> None:
    assert describe_status(0) == "exit code 0"
    assert describe_status(3) == "exit code 3"
    assert describe_status(-signal.SIGKILL) == "killed by SIGKILL"
