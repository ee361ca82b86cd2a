"""Per-gateway batch sequence numbers that only grow, across restarts too.

The file ``<data_dir>/sequence`` holds a high-water mark: every number below it may
already have been used. Numbers are reserved in blocks, so the file (often on an SD card)
is written once per block rather than once per batch; after a restart numbering
continues at the mark, above everything the previous run could have used. The numbers a
run reserved but did not use are skipped, so the cloud sees gaps in ``seq`` after a
restart — gaps are normal, only a decrease would be a fault.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DEFAULT_BLOCK = 1000


class SequenceError(Exception):
    """The sequence file cannot be read or written, so numbers could repeat."""


class SequenceNumbers:
    """Hands out strictly increasing integers, persisted by block reservation."""

    def __init__(self, path: Path, *, block: int = DEFAULT_BLOCK) -> None:
        if block < 1:
            raise ValueError("block must be at least 1")
        self.path = path
        self.block = block
        self._next: int | None = None
        self._reserved_until = 0

    def load(self) -> None:
        """Read the high-water mark (0 when there is no file yet); SequenceError if bad."""
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            mark = 0
        except (OSError, UnicodeDecodeError) as exc:
            raise SequenceError(f"cannot read {self.path}: {exc}") from None
        else:
            try:
                mark = int(text.strip())
            except ValueError:
                raise SequenceError(
                    f"{self.path} does not hold a sequence number: {text[:40]!r}; "
                    "replace it with a number above the last seq the cloud has seen"
                ) from None
            if mark < 0:
                raise SequenceError(f"{self.path} holds a negative sequence number: {mark}")
        self._next = mark
        self._reserved_until = mark

    @property
    def reserved_until(self) -> int:
        """The persisted high-water mark: numbers below it are used or reserved."""
        return self._reserved_until

    def next(self) -> int:
        """The next number; reserves (and persists) a new block when the current one is spent."""
        if self._next is None:
            self.load()
        assert self._next is not None
        if self._next >= self._reserved_until:
            self._persist(self._next + self.block)
            self._reserved_until = self._next + self.block
        value = self._next
        self._next += 1
        return value

    def _persist(self, mark: int) -> None:
        """Write ``mark`` atomically and durably: temp file, fsync, rename, fsync the directory."""
        temp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with temp.open("w", encoding="ascii") as stream:
                stream.write(f"{mark}\n")
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp, self.path)
            _fsync_directory(self.path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
            raise SequenceError(f"cannot write {self.path}: {exc}") from None


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
