"""Picking up changed device profiles while the agent runs.

:class:`ProfileWatcher` notices when ``*.yaml`` files in a site's profile directories are
added, changed or removed — by name, modification time, size and inode (a file moved into
place is a new inode), no file-system events needed — and then loads the whole catalogue
anew. :func:`compare` tells which profiles two
catalogues differ in. Scanning and loading read files, so the agent calls
:meth:`ProfileWatcher.poll` in a worker thread. The built-in profiles are not watched: they
change only with a software update.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from device_profiles import Catalogue
from device_profiles.schema import Profile

Snapshot = frozenset[tuple[str, int, int, int]]
"""(path, mtime_ns, size, inode) of every profile file; -1s for what cannot be examined."""

_UNREADABLE = (-1, -1, -1)


def scan(directories: Iterable[Path]) -> Snapshot:
    """The profile files in ``directories`` as they are now.

    A missing directory, or a file that cannot be examined, is recorded as such, so that
    its coming back counts as a change too.
    """
    entries: set[tuple[str, int, int, int]] = set()
    for directory in directories:
        try:
            paths = list(directory.glob("*.yaml")) if directory.is_dir() else None
        except OSError:
            paths = None
        if paths is None:
            entries.add((str(directory), *_UNREADABLE))
            continue
        for path in paths:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # removed since the listing
            except OSError:
                entries.add((str(path), *_UNREADABLE))
                continue
            entries.add((str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino))
    return frozenset(entries)


class ProfileWatcher:
    """Loads the catalogue again when a site's profile files change.

    The files are scanned once on creation; :meth:`poll` compares them with the last scan.
    """

    def __init__(self, directories: Sequence[Path]) -> None:
        self.directories = list(directories)
        self._seen = scan(self.directories)

    def poll(self) -> Catalogue | None:
        """None while nothing changed since the last poll; else the catalogue loaded anew
        (built-in profiles and the site's).

        Raises :class:`~device_profiles.ProfileError` with every issue if the changed files
        are invalid — once per change: the next poll returns None until the files change
        again. Blocks on file I/O.
        """
        now = scan(self.directories)
        if now == self._seen:
            return None
        self._seen = now  # before loading: a failed load is reported once, not every poll
        return Catalogue.load(self.directories)


@dataclass(frozen=True, slots=True)
class Changes:
    """How one catalogue differs from the one before, profile by profile."""

    added: tuple[Profile, ...]
    changed: tuple[tuple[Profile, Profile], ...]
    """(before, after) pairs of profiles with the same id and different content."""
    removed: tuple[Profile, ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def compare(before: Catalogue, after: Catalogue) -> Changes:
    """Which profiles ``after`` adds, changes and removes relative to ``before``, by id."""
    added = tuple(p for p in after if before.get(p.id) is None)
    removed = tuple(p for p in before if after.get(p.id) is None)
    changed = tuple(
        (old, new) for new in after if (old := before.get(new.id)) is not None and old != new
    )
    return Changes(added=added, changed=changed, removed=removed)
