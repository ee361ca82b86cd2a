"""``linli demo``: the whole system in one command — it comes up, reports a dying child,
stops everything, and takes its settings from options or LINLI_DEMO_* variables."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from linli.cli import app
from linli.demo import DemoSettings, choose_http_port
from linli.ports import free_port
from tests.conftest import require_mosquitto


def test_busy_http_port_is_replaced() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        replacement, changed = choose_http_port(busy)
        assert changed and replacement != busy
    assert choose_http_port(replacement) == (replacement, False)


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
    if args[:2] == ("sim", "site"):  # the real one: it only prints the site file
        return [sys.executable, "-m", "linli", *args]
    if args[0] == "site":
        return [sys.executable, "-c", "print('site applied: ' + repr(" + repr(args) + "))"]
    if args[0] == "gateway":  # what linli gateway add writes: the broker's files, the edge's
        out, broker = args[args.index("--out") + 1], args[args.index("--broker-dir") + 1]
        code = (
            "import pathlib, sys; out, broker = map(pathlib.Path, sys.argv[1:3]); "
            "broker.mkdir(parents=True, exist_ok=True); "
            "[(broker / n).write_text('') for n in ('passwd', 'acl')]; "
            "out.write_text(chr(10).join(['LINLI_EDGE_CLOUD_USERNAME=demo-gw', 'x=y']))"
        )
        return [sys.executable, "-c", code, out, broker]
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


def _start_demo(
    tmp_path: Path,
    cloud_mode: str,
    *,
    env: dict[str, str] | None = None,
    data_dir: Path | None = None,
) -> subprocess.Popen[bytes]:
    """The demo with stand-ins; its data in ``data_dir`` (default: tmp_path/data; None:
    not given, so its variable or default decides)."""
    require_mosquitto()
    argv = [sys.executable, "-c", FAKE_DEMO, _marker(tmp_path), cloud_mode]
    if data_dir is not None or env is None:
        argv += ["--data-dir", str(data_dir or tmp_path / "data")]
    argv += ["--http-port", str(free_port())]
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
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
        children = _processes_with(marker, besides=demo.pid)
        deadline = time.monotonic() + 10
        while len(children) != 3 and time.monotonic() < deadline:  # a busy machine lags
            time.sleep(0.1)
            children = _processes_with(marker, besides=demo.pid)
        assert len(children) == 3, children  # cloud, edge, sim
        demo.send_signal(signal.SIGTERM)
        rest, _ = demo.communicate(timeout=15)
    finally:
        _end(demo)
    output = (banner + rest).decode()
    assert demo.returncode == 0, output
    assert "dashboard       http://127.0.0.1:" in output
    site = tmp_path / "data" / "site.yaml"
    assert f"site applied: ('site', 'apply', '{site}'" in output
    assert "linli.site/v1" in site.read_text()
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


def test_help_shows_each_options_variable_and_the_models_default() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    default_port = DemoSettings.model_fields["http_port"].default
    assert f"(env LINLI_DEMO_HTTP_PORT; default {default_port})" in help_text
    assert "(env LINLI_DEMO_DATA_DIR; default ./var)" in help_text
    assert "(env LINLI_DEMO_GATEWAY_PORT)" in help_text


def test_an_invalid_variable_stops_the_demo_before_it_starts_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--data-dir", str(tmp_path)], env={"LINLI_DEMO_SPEED": "0"}
    )
    assert result.exit_code == 2
    assert "setting speed (--speed or LINLI_DEMO_SPEED)" in result.stderr
    assert not (tmp_path / "logs").exists()


def test_the_data_directory_comes_from_its_variable_and_the_option_overrides_it(
    tmp_path: Path,
) -> None:
    """The demo puts its logs under its data directory, wherever that is set."""
    from_env, from_option = tmp_path / "env", tmp_path / "option"
    env = {"LINLI_DEMO_DATA_DIR": str(from_env)}
    demo = _start_demo(tmp_path, "dies", env=env, data_dir=None)
    demo.communicate(timeout=20)
    assert (from_env / "logs" / "cloud.log").exists()
    demo = _start_demo(tmp_path, "dies", env=env, data_dir=from_option)
    demo.communicate(timeout=20)
    assert (from_option / "logs" / "cloud.log").exists()
