"""Checking profile files as ``linli profiles validate`` does: every problem, located.

:func:`check_files` takes files and directories, and for each profile file finds what
loading finds, what its examples show when they run as the catalogue tests run them, and
an ``id`` that a built-in profile or another file given already uses — each problem as
``file:line: field: message``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from device_profiles.catalogue import (
    ProfileError,
    builtin_dir,
    load_document,
    load_file,
    profile_files,
)
from device_profiles.examples import example_problems
from device_profiles.schema import Profile
from plumbing.issues import Issue
from plumbing.yamlfile import YamlDocument


@dataclass
class FileCheck:
    """One profile file: the profile, if it loads, and every problem found in it."""

    path: Path
    profile: Profile | None = None
    issues: list[Issue] = field(default_factory=list)


@dataclass(frozen=True)
class Checks:
    """What :func:`check_files` found: problems with the paths given, then each file."""

    path_issues: list[Issue]
    files: list[FileCheck]

    @property
    def errors(self) -> int:
        """How many problems there are in all."""
        return len(self.path_issues) + sum(len(file.issues) for file in self.files)


def check_files(paths: Sequence[Path]) -> Checks:
    """Check the profile files at ``paths`` (files, or directories of ``*.yaml`` files);
    each file's issues are in line order."""
    found, path_issues = _profile_paths(paths)
    checks = [FileCheck(path) for path in found]
    documents: dict[Path, YamlDocument] = {}
    for check in checks:
        try:
            check.profile, documents[check.path] = load_document(check.path)
        except ProfileError as exc:
            check.issues += exc.issues
            continue
        document = documents[check.path]
        check.issues += [
            document.issue(loc, message) for loc, message in example_problems(check.profile)
        ]
    for check, message in _id_clashes(checks):
        check.issues.append(documents[check.path].issue(("id",), message))
    for check in checks:
        check.issues.sort(key=lambda issue: issue.line or 0)
    return Checks(path_issues, checks)


def _profile_paths(paths: Sequence[Path]) -> tuple[list[Path], list[Issue]]:
    """The files to check (each once, in the order given) and problems with the paths."""
    files: list[Path] = []
    seen: set[Path] = set()
    issues: list[Issue] = []
    for path in paths:
        if path.is_dir():
            try:
                with os.scandir(path):
                    pass
            except OSError as exc:
                issues.append(Issue(path, None, "", f"cannot read: {exc.strerror}"))
                continue
            found = list(profile_files([path]))
            if not found:
                others = sorted(p.name for p in path.glob("*.yml"))
                hint = f"; rename {', '.join(others)} to *.yaml" if others else ""
                issues.append(Issue(path, None, "", f"no *.yaml profile files{hint}"))
        elif path.exists():
            found = [path]
        else:
            issues.append(Issue(path, None, "", "no such file or directory"))
            continue
        for file in found:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                files.append(file)
    return files, issues


def _id_clashes(checks: Sequence[FileCheck]) -> list[tuple[FileCheck, str]]:
    """Files whose id a built-in profile, or an earlier file given, already uses."""
    builtins: dict[str, Path] = {}
    for path in profile_files([builtin_dir()]):
        try:
            builtins.setdefault(load_file(path).id, path)
        except ProfileError:
            continue  # a broken built-in is reported when it is validated itself
    first: dict[str, Path] = {}
    clashes: list[tuple[FileCheck, str]] = []
    for check in checks:
        profile = check.profile
        if profile is None:
            continue
        builtin = builtins.get(profile.id)
        if builtin is not None and builtin.resolve() != check.path.resolve():
            message = f"{profile.id!r} is the id of the built-in profile {builtin}"
        elif profile.id in first:
            message = f"{profile.id!r} is also defined in {first[profile.id]}"
        else:
            first[profile.id] = check.path
            continue
        clashes.append((check, message))
    return clashes
