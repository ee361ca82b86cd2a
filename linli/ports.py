"""Loopback ports for the servers Linli starts itself: brokers, databases, the HTTP API.

``free_port`` is for a server that binds the port a moment after it was chosen (a child process,
a broker), so the choice must not collide with what else runs on the machine meanwhile.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PORTS_FROM = 20000
"""The lowest port handed out; the ports up to the kernel's ephemeral range are shared out."""
MIN_SLICE = 64

_offsets = itertools.count(random.randrange(1 << 16))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody is bound to now, for a server that binds it a moment later.

    The port the kernel gives ``bind(0)`` lies in its ephemeral range, where any outgoing
    connection may take it before the server comes up ("address already in use", seen in CI with
    tests running in parallel). So ports are drawn below that range, where only explicit binds go;
    each pytest-xdist worker draws from its own slice, and a process hands out the ports of its
    slice in turn, never the same one twice in a row. Falls back to ``bind(0)`` when the
    ephemeral range leaves no room below it."""
    index, count = _worker_slot()
    width = (_ephemeral_low() - PORTS_FROM) // count
    if width >= MIN_SLICE:
        first = PORTS_FROM + index * width
        for _ in range(width):
            port = first + next(_offsets) % width
            if port_is_free(port, host):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could bind ``host:port`` now (as uvicorn does, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_open(host: str, port: int) -> bool:
    """Whether something accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _worker_slot() -> tuple[int, int]:
    """This process's pytest-xdist worker number and the number of workers; (0, 1) outside."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if worker.isdigit() and count.isdigit() and int(worker) < int(count):
        return int(worker), int(count)
    return 0, 1


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default
