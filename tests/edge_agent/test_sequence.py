"""SequenceNumbers: strictly growing, persisted by block, across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.sequence import SequenceError, SequenceNumbers


def test_fresh_file_starts_at_zero_and_grows(tmp_path: Path) -> None:
    numbers = SequenceNumbers(tmp_path / "sequence", block=10)
    assert [numbers.next() for _ in range(5)] == [0, 1, 2, 3, 4]
    assert (tmp_path / "sequence").read_text() == "10\n"


def test_file_is_rewritten_only_when_a_block_is_reserved(tmp_path: Path) -> None:
    path = tmp_path / "sequence"
    numbers = SequenceNumbers(path, block=100)
    numbers.next()
    inode = path.stat().st_ino  # each atomic rewrite (temp file + rename) makes a new inode
    for _ in range(99):
        numbers.next()
    assert path.stat().st_ino == inode
    assert path.read_text() == "100\n"
    assert numbers.next() == 100
    assert path.stat().st_ino != inode
    assert path.read_text() == "200\n"
    assert not list(tmp_path.glob("*.tmp"))


def test_restart_continues_above_the_reserved_block(tmp_path: Path) -> None:
    path = tmp_path / "sequence"
    first = SequenceNumbers(path, block=1000)
    used = [first.next() for _ in range(3)]
    second = SequenceNumbers(path, block=1000)
    after_restart = second.next()
    assert after_restart == 1000
    assert after_restart > max(used)
    third = SequenceNumbers(path, block=1000)
    assert third.next() == 2000


def test_data_directory_is_created(tmp_path: Path) -> None:
    numbers = SequenceNumbers(tmp_path / "deep" / "er" / "sequence")
    assert numbers.next() == 0
    assert (tmp_path / "deep" / "er" / "sequence").read_text() == "1000\n"


@pytest.mark.parametrize("content", ["", "twelve\n", "-5\n", "1.5"])
def test_an_unreadable_mark_is_an_error_not_a_restart_from_zero(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "sequence"
    path.write_text(content)
    numbers = SequenceNumbers(path)
    with pytest.raises(SequenceError, match="sequence"):
        numbers.load()
    assert path.read_text() == content


def test_unwritable_file_raises_sequence_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    numbers = SequenceNumbers(blocker / "sequence")
    with pytest.raises(SequenceError, match="cannot"):
        numbers.next()
