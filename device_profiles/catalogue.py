"""Loading profiles from YAML with errors that name file, line and field.

The built-in catalogue ships inside the package; a site may add directories of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from device_profiles.decode import Decoded, DecodeError, decode, match_topic
from device_profiles.schema import Profile, reference_problems


@dataclass(frozen=True)
class ProfileIssue:
    """One problem in one profile file."""

    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ProfileError(Exception):
    """One or more profile files are invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ProfileIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def builtin_dir() -> Path:
    """Directory of the profiles that ship with Linli."""
    return Path(str(resources.files("device_profiles") / "catalogue"))


def load_file(path: Path) -> Profile:
    """Load and validate one profile file; raise ProfileError listing every problem."""
    yaml = YAML(typ="rt")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProfileError([ProfileIssue(path, None, "", f"cannot read: {exc.strerror}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = data[: exc.start].count(b"\n") + 1
        issue = ProfileIssue(path, bad_line, "", f"not UTF-8 text: {exc.reason}")
        raise ProfileError([issue]) from None
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProfileError([ProfileIssue(path, line, "", f"YAML: {problem}")]) from None
    if not isinstance(document, CommentedMap):
        raise ProfileError([ProfileIssue(path, 1, "", "a profile must be a YAML mapping")])
    plain = _plain(document)
    try:
        return Profile.model_validate(plain)
    except ValidationError as exc:
        errors = exc.errors()
    # Unresolved names, located; Profile itself reports them only as one summary at the
    # root, and not at all while another part of the file is invalid.
    located = reference_problems(plain)
    issues = []
    for error in errors:
        loc = tuple(error["loc"])
        if not loc and located:
            continue
        if error["type"] == "too_short" and _has_inner_error(loc, errors):
            continue  # pydantic counts only the items that validated: noise after their errors
        issues.append(ProfileIssue(path, line_of(document, loc), dotted(loc), error["msg"]))
    for loc, message in located:
        issues.append(ProfileIssue(path, line_of(document, loc), dotted(loc), message))
    issues.sort(key=lambda issue: issue.line or 0)
    raise ProfileError(issues)


def _has_inner_error(loc: tuple[Any, ...], errors: Sequence[ErrorDetails]) -> bool:
    return any(len(e["loc"]) > len(loc) and tuple(e["loc"][: len(loc)]) == loc for e in errors)


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers as plain dicts and lists (keys as text)."""
    if isinstance(node, CommentedMap):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(value) for value in node]
    return node


def dotted(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def line_of(document: CommentedMap, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node on ``loc`` that exists in the YAML document."""
    node: Any = document
    line: int | None = 1
    for part in loc:
        if isinstance(node, CommentedMap) and str(part) in {str(k) for k in node}:
            key = next(k for k in node if str(k) == str(part))
            if key not in node.lc.data:
                break  # merged in from an anchor (``<<: *name``): no line of its own here
            line = node.lc.key(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def profile_files(directories: Iterable[Path]) -> Iterator[Path]:
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
        for path in profile_files(d for d in directories if d.is_dir()):
            try:
                profile = load_file(path)
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
