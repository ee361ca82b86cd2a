"""The demo's process supervision: children start, are watched, and are stopped completely."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from linli.demo import ProcessGroup, StopRequest, choose_http_port, describe_status, log_tail
from linli.mosquitto import free_port
from tests.conftest import require_mosquitto

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
    assert [_live_members(pgid) for pgid in pgids] == [[], []]
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


def test_busy_http_port_is_replaced() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        replacement, changed = choose_http_port(busy)
        assert changed and replacement != busy
    assert choose_http_port(replacement) == (replacement, False)


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


# ``linli demo`` end to end with stand-ins for the cloud, edge agent and simulator (real
# Mosquitto brokers): it must come up, report a dying child, and leave nothing running.
FAKE_DEMO = """
import sys

import typer

import linli.demo

CLOUD_OK = '''
import http.server, sys, time
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health)
server.timeout = 0.2
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    server.handle_request()
'''
CLOUD_DIES = "print('cloud exploded', flush=True); raise SystemExit(4)"
SLEEP = "import time; time.sleep(60)"
marker, cloud_mode = sys.argv[1], sys.argv[2]


def fake(*args: str) -> list[str]:
    if args[0] == "cloud":
        port = args[args.index("--port") + 1]
        code = CLOUD_OK if cloud_mode == "ok" else CLOUD_DIES
        return [sys.executable, "-c", code, port, marker]
    return [sys.executable, "-c", SLEEP, marker, *args]


linli.demo.linli_command = fake
app = typer.Typer()
app.command()(linli.demo.demo)
app(sys.argv[3:])
"""


def _processes_with(marker: str, *, besides: int = 0) -> list[str]:
    """Command lines of live processes (other than ``besides``) that mention ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (os.getpid(), besides):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(cmdline.replace("\0", " "))
    return found


def _read_until(process: subprocess.Popen[bytes], text: bytes, timeout: float = 20.0) -> bytes:
    """Output of ``process`` up to and including ``text``; AssertionError if it never comes."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    output = b""
    deadline = time.monotonic() + timeout
    while text not in output:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {text!r} within {timeout}s:\n{output.decode()}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"exited before {text!r}:\n{output.decode()}")
            output += chunk
    return output


def _marker(tmp_path: Path) -> str:
    return f"linli-demo-test:{tmp_path}"


def _start_demo(tmp_path: Path, cloud_mode: str) -> subprocess.Popen[bytes]:
    require_mosquitto()
    argv = [sys.executable, "-c", FAKE_DEMO, _marker(tmp_path), cloud_mode]
    argv += ["--data-dir", str(tmp_path / "data"), "--http-port", str(free_port())]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )


def _end(demo: subprocess.Popen[bytes]) -> None:
    """Make sure a demo that a failed test left running stops (and stops its children)."""
    if demo.poll() is None:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()


def test_demo_starts_everything_and_stops_on_sigterm(tmp_path: Path) -> None:
    demo = _start_demo(tmp_path, "ok")
    marker = _marker(tmp_path)
    try:
        banner = _read_until(demo, b"Ctrl-C to stop.")
        assert len(_processes_with(marker, besides=demo.pid)) == 3  # cloud, edge, sim
        demo.send_signal(signal.SIGTERM)
        rest, _ = demo.communicate(timeout=15)
    finally:
        _end(demo)
    output = (banner + rest).decode()
    assert demo.returncode == 0, output
    assert "dashboard       http://127.0.0.1:" in output
    assert "linli sim fault gate-01 motor_jammed --broker-port" in output
    assert "stopped (SIGTERM)" in output
    assert _processes_with(marker) == []
    assert (tmp_path / "data" / "logs" / "sim.log").exists()


def test_demo_fails_when_the_cloud_dies(tmp_path: Path) -> None:
    demo = _start_demo(tmp_path, "dies")
    try:
        raw, _ = demo.communicate(timeout=20)
    finally:
        _end(demo)
    output = raw.decode()
    assert demo.returncode == 1, output
    assert "cloud exited unexpectedly (exit code 4)" in output
    assert "cloud exploded" in output
    assert _processes_with(_marker(tmp_path)) == []
