"""Loading profiles from YAML, with every problem as ``file:line: field: message``.

The built-in catalogue ships inside the package; a site may add directories of its own.
Reading the YAML and locating a problem are :mod:`plumbing.yamlfile`'s; a problem is a
:class:`plumbing.issues.Issue` (``ProfileIssue`` here).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from device_profiles.decode import Decoded, DecodeError, decode, match_topic
from device_profiles.pieces import Expanded, PieceLibrary, builtin_pieces_dir, expand
from device_profiles.references import reference_problems
from device_profiles.schema import Profile
from plumbing.issues import Issue, IssuesError, Loc, dotted, message_of, validation_issues
from plumbing.yamlfile import YamlDocument, read_mapping

__all__ = [
    "Catalogue",
    "ProfileError",
    "ProfileIssue",
    "builtin_dir",
    "load_document",
    "load_file",
    "profile_files",
]

ProfileIssue = Issue
"""One problem in one profile file (``file`` is its path)."""


class ProfileError(IssuesError):
    """One or more profile files are invalid; ``issues`` lists every problem found."""


def builtin_dir() -> Path:
    """Directory of the profiles that ship with Linli."""
    return Path(str(resources.files("device_profiles") / "catalogue"))


def load_file(path: Path, pieces: PieceLibrary | None = None) -> Profile:
    """Load and validate one profile file; raise ProfileError listing every problem."""
    return load_document(path, pieces)[0]


def load_document(path: Path, pieces: PieceLibrary | None = None) -> tuple[Profile, YamlDocument]:
    """The profile in the file at ``path``, its pieces merged in (from ``pieces``, else
    the built-in ones and a ``pieces`` folder beside the file), and the YAML document it
    was read from (to locate what later checks find); ProfileError listing every problem."""
    try:
        document = read_mapping(path, what="a profile")
        library = pieces if pieces is not None else PieceLibrary.for_profile(path)
    except IssuesError as exc:
        raise ProfileError(exc.issues) from None
    expanded = expand(document.plain(), library)
    if expanded.problems:
        raise ProfileError([document.issue(loc, message) for loc, message in expanded.problems])
    try:
        return Profile.model_validate(expanded.document), document
    except ValidationError as exc:
        raise ProfileError(_issues(document, expanded, exc)) from None


def _issues(document: YamlDocument, expanded: Expanded, exc: ValidationError) -> list[Issue]:
    """Every problem of a profile that failed validation, in file order; one in what a
    piece added is reported at the line that includes the piece.

    Unresolved names are located here: Profile itself reports them only as one summary at
    the root, and not at all while another part of the file is invalid.
    """

    def line_of(loc: Loc) -> int | None:
        piece = expanded.origin(loc)
        return document.line_of(("pieces", piece) if piece else loc)

    def said(loc: Loc, message: str) -> str:
        piece = expanded.origin(loc)
        return f"from piece {piece}: {message}" if piece else message

    located = [
        Issue(document.file, line_of(loc), dotted(loc), said(loc, message))
        for loc, message in reference_problems(expanded.document)
    ]
    issues = [
        issue
        for issue in validation_issues(
            exc,
            document.file,
            line_of=line_of,
            message=lambda error: said(tuple(error["loc"]), message_of(error)),
        )
        if issue.field or not located
    ]  # the root's summary repeats the located names
    return sorted(issues + located, key=lambda issue: issue.line or 0)


def profile_files(directories: Iterable[Path]) -> Iterator[Path]:
    """The ``*.yaml`` files of each directory, sorted by name within it."""
    for directory in directories:
        yield from sorted(directory.glob("*.yaml"))


class Catalogue:
    """All profiles in use: the built-in ones plus a site's own, keyed by profile id."""

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self._profiles: dict[str, Profile] = {}
        for profile in profiles:
            if profile.id in self._profiles:
                raise ValueError(f"two profiles share the id {profile.id!r}")
            self._profiles[profile.id] = profile

    @classmethod
    def load(cls, extra_dirs: Iterable[Path] = (), *, builtin: bool = True) -> Catalogue:
        """Load every profile; raise ProfileError listing every problem in every file."""
        directories = ([builtin_dir()] if builtin else []) + list(extra_dirs)
        profiles: list[Profile] = []
        issues: list[ProfileIssue] = []
        seen: dict[str, Path] = {}
        for directory in directories:
            if not directory.is_dir():
                issues.append(ProfileIssue(directory, None, "", "not a directory"))
        libraries: dict[Path, PieceLibrary] = {}  # per directory: its pieces and ours
        for directory in (d for d in directories if d.is_dir()):
            try:
                libraries[directory] = PieceLibrary.load(
                    [builtin_pieces_dir(), directory / "pieces"]
                )
            except IssuesError as exc:
                issues.extend(exc.issues)
        for path in profile_files(d for d in directories if d in libraries):
            try:
                profile = load_file(path, libraries[path.parent])
            except ProfileError as exc:
                issues.extend(exc.issues)
                continue
            if profile.id in seen:
                issues.append(
                    ProfileIssue(
                        path, None, "id", f"{profile.id!r} is also defined in {seen[profile.id]}"
                    )
                )
                continue
            seen[profile.id] = path
            profiles.append(profile)
        if issues:
            raise ProfileError(issues)
        return cls(profiles)

    def __iter__(self) -> Iterator[Profile]:
        return iter(self._profiles.values())

    def __len__(self) -> int:
        return len(self._profiles)

    def __getitem__(self, profile_id: str) -> Profile:
        return self._profiles[profile_id]

    def get(self, profile_id: str) -> Profile | None:
        return self._profiles.get(profile_id)

    def subscriptions(self) -> list[str]:
        """MQTT filters that receive every topic of every profile."""
        return sorted({spec.subscription for p in self for spec in p.topics})

    def profile_for_topic(self, topic: str) -> Profile | None:
        for profile in self:
            if match_topic(profile, topic) is not None:
                return profile
        return None

    def decode(self, topic: str, payload: bytes, received_at: Any) -> Decoded:
        """Decode a message from whichever profile claims its topic."""
        profile = self.profile_for_topic(topic)
        if profile is None:
            raise DecodeError(f"no profile claims topic {topic!r}")
        return decode(profile, topic, payload, received_at)
