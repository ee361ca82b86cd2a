"""The dead-letter log: JSON lines with reason, text or base64 payload, truncation, rotation."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from edge_agent.deadletter import MAX_PAYLOAD_BYTES, MAX_PENDING, DeadLetters

TIMEOUT_S = 10.0


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_record_has_reason_topic_and_text_payload(tmp_path: Path) -> None:
    letters = DeadLetters(tmp_path / "deadletter.jsonl")
    letters.record(topic="acme/gate/g/state", payload=b"not json", category="decode", reason="bad")
    letters.flush()
    (entry,) = records(tmp_path / "deadletter.jsonl")
    assert entry["topic"] == "acme/gate/g/state"
    assert entry["category"] == "decode"
    assert entry["reason"] == "bad"
    assert entry["payload"] == "not json"
    assert "payload_b64" not in entry
    assert entry["payload_bytes"] == 8
    assert entry["truncated"] is False
    assert entry["ts"].startswith("20")


def test_binary_payload_is_base64_in_its_own_field(tmp_path: Path) -> None:
    letters = DeadLetters(tmp_path / "dl.jsonl")
    raw = b"\xff\xfe\x00\x81binary"
    letters.record(topic="t", payload=raw, category="decode", reason="r")
    letters.close()
    (entry,) = records(tmp_path / "dl.jsonl")
    assert "payload" not in entry
    assert base64.b64decode(entry["payload_b64"]) == raw


def test_payload_is_cut_at_4_kib(tmp_path: Path) -> None:
    letters = DeadLetters(tmp_path / "dl.jsonl")
    letters.record(topic="t", payload=b"x" * 10_000, category="decode", reason="r")
    # a two-byte character split by the cut still leaves readable text
    letters.record(topic="t", payload=b"a" + "é".encode() * 5000, category="decode", reason="r")
    letters.flush()
    big, split = records(tmp_path / "dl.jsonl")
    assert big["payload"] == "x" * MAX_PAYLOAD_BYTES
    assert big["truncated"] is True
    assert big["payload_bytes"] == 10_000
    assert "payload_b64" not in split
    assert split["payload"] == "a" + "é" * ((MAX_PAYLOAD_BYTES - 1) // 2)


def test_counts_per_category_and_total(tmp_path: Path) -> None:
    letters = DeadLetters(tmp_path / "dl.jsonl")
    for category in ("decode", "decode", "command", "unknown_topic"):
        letters.record(topic="t", payload=b"p", category=category, reason="r")
    assert letters.total == 4
    assert letters.by_category == {"decode": 2, "command": 1, "unknown_topic": 1}


def test_file_rotates_to_dot_1_at_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "deadletter.jsonl"
    letters = DeadLetters(path, max_bytes=2000)
    for n in range(20):
        letters.record(topic="t", payload=b"y" * 200, category="decode", reason=f"n={n}")
    letters.flush()
    rotated = tmp_path / "deadletter.jsonl.1"
    assert rotated.exists()
    assert path.stat().st_size <= 2000
    assert rotated.stat().st_size <= 2000
    current, older = records(path), records(rotated)
    assert current[-1]["reason"] == "n=19"
    assert int(older[-1]["reason"][2:]) + 1 == int(current[0]["reason"][2:])
    assert letters.total == 20


def test_rotation_picks_up_the_size_of_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "deadletter.jsonl"
    path.write_text("{}\n" * 600)  # 1800 bytes left by an earlier run
    letters = DeadLetters(path, max_bytes=2000)
    letters.record(topic="t", payload=b"z" * 300, category="decode", reason="r")
    letters.close()
    assert (tmp_path / "deadletter.jsonl.1").stat().st_size == 1800
    assert len(records(path)) == 1


def test_unwritable_log_is_counted_and_does_not_raise(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    letters = DeadLetters(blocker / "deadletter.jsonl")
    letters.record(topic="t", payload=b"p", category="decode", reason="r")
    assert letters.total == 1


def test_a_stuck_disk_never_holds_up_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records are written by a thread of the log's own: while it is stuck, recording goes
    on at once, and past MAX_PENDING waiting records the rest are counted, not written."""
    letters = DeadLetters(tmp_path / "dl.jsonl")
    stuck = threading.Event()
    written: list[bytes] = []

    def slow_append(data: bytes) -> None:
        stuck.wait(TIMEOUT_S)
        written.append(data)

    monkeypatch.setattr(letters, "_append", slow_append)
    started = time.monotonic()
    for n in range(MAX_PENDING + 50):
        letters.record(topic="t", payload=b"p", category="decode", reason=f"n={n}")
    assert time.monotonic() - started < 1.0
    assert letters.total == MAX_PENDING + 50
    assert letters.unwritten == 50
    stuck.set()
    letters.close(TIMEOUT_S)
    assert len(written) == MAX_PENDING
