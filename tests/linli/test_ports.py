"""Ports for the servers Linli starts: never in the kernel's ephemeral range, where an outgoing
connection could take one before its server binds it; never shared between parallel workers."""

from __future__ import annotations

import itertools
import socket

import pytest

from linli import ports
from linli.ports import PORTS_FROM, free_port, port_is_free


def _ephemeral_low() -> int:
    return int(ports.EPHEMERAL_RANGE.read_text().split()[0])


def test_ports_come_from_below_the_ephemeral_range_and_are_bindable() -> None:
    chosen = [free_port() for _ in range(50)]
    assert all(PORTS_FROM <= port < _ephemeral_low() for port in chosen)
    assert len(set(chosen)) == len(chosen)
    for port in chosen[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_someone_listens_on_is_not_handed_out() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        taken = held.getsockname()[1]
        assert not port_is_free(taken)
        assert taken not in {free_port() for _ in range(200)}


def test_parallel_workers_draw_from_disjoint_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    drawn: dict[str, set[int]] = {}
    for worker in ("gw0", "gw1", "gw2", "gw3"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        drawn[worker] = {free_port() for _ in range(30)}
    everything = set().union(*drawn.values())
    assert len(everything) == 120
    slices = sorted((min(got), max(got)) for got in drawn.values())
    assert all(left[1] < right[0] for left, right in itertools.pairwise(slices))


def test_without_room_below_the_ephemeral_range_the_kernel_chooses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kernel_low = _ephemeral_low()
    monkeypatch.setattr(ports, "_ephemeral_low", lambda: PORTS_FROM + 10)
    port = free_port()
    assert port_is_free(port)
    assert port >= kernel_low
