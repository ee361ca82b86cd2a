"""The open-file limit: raised for as many connections as are asked for, or a clear error."""

from __future__ import annotations

import resource

import pytest

from simulators.transport import OpenFileLimit, ensure_open_files


def test_open_file_limit_is_raised_to_the_hard_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 65536))
    monkeypatch.setattr(resource, "setrlimit", lambda _, limits: calls.append(limits))
    assert ensure_open_files(5000) == 65536
    assert calls == [(65536, 65536)]
    calls.clear()
    assert ensure_open_files(100) == 1024
    assert calls == []


def test_too_low_a_hard_limit_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 4096))
    with pytest.raises(OpenFileLimit, match=r"5000 MQTT connections .* at most 4096"):
        ensure_open_files(5000)
