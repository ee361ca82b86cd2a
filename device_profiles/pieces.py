"""Pieces: the parts many profiles share, defined once and included by name, with
parameters — the offline fault and its silence rule, a battery that runs low, a usage
counter that calls for preventive maintenance.

A piece is a file ``pieces/<id>.yaml`` beside the profiles (the built-in ones ship in
``device_profiles/catalogue/pieces``; a site directory may have a ``pieces`` folder of its own)::

    schema: linli.piece/v1
    id: offline
    description: The device stops reporting.
    params:
      what: {description: what falls silent, in the fault's title}
      heartbeats: {description: silent heartbeats before it is offline, default: 3}
    adds:
      faults:
        offline: {title: "{what} not reporting", severity: major}
      rules:
        - {fault: offline, silence: {heartbeats: "{heartbeats}"}}

A profile includes it under ``pieces``, by id with its parameters::

    pieces:
      offline: {what: Lighting controller}

Before a profile is validated, each piece's ``adds`` is filled in — a text that is only
``{name}`` becomes the parameter's value as it is (a number stays a number); any other text
has its ``{name}`` parts replaced — and merged into the profile: mappings (``faults``,
``commands``, ``decode.metrics``, ``translations.<language>.faults``…) take the piece's
keys, lists (``rules``) its items. A key the profile has itself is a problem, not an
override: each fault, metric and command is said once. A problem in what a piece added is
reported at the profile's ``pieces.<id>`` line.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from plumbing.issues import Issue, IssuesError, Loc
from plumbing.yamlfile import read_mapping

PIECE_SCHEMA = "linli.piece/v1"
_WHOLE = re.compile(r"^\{(\w+)\}$")
_PART = re.compile(r"\{(\w+)\}")


class Param(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    default: Any = Field(default=None, description="left out: the profile must give it")

    @property
    def required(self) -> bool:
        return "default" not in self.model_fields_set


class Piece(BaseModel):
    """One piece: what it adds to a profile, and the parameters it is filled in with."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["linli.piece/v1"] = Field(alias="schema")
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    description: str
    params: dict[str, Param] = {}
    adds: dict[str, Any] = Field(
        description="profile sections, as a profile writes them, with {param} in texts"
    )


class PieceError(IssuesError):
    """A piece file is invalid; ``issues`` lists every problem."""


def builtin_pieces_dir() -> Path:
    return Path(str(resources.files("device_profiles") / "catalogue" / "pieces"))


@dataclass
class PieceLibrary:
    """The pieces a profile may include: the built-in ones, and a site's."""

    pieces: dict[str, Piece] = field(default_factory=dict)

    @classmethod
    def load(cls, directories: Iterable[Path]) -> PieceLibrary:
        """The pieces of each directory (``*.yaml``); a later one of the same id replaces an
        earlier one. PieceError listing every problem."""
        library = cls()
        issues: list[Issue] = []
        for directory in directories:
            for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
                try:
                    document = read_mapping(path, what="a piece")
                    piece = Piece.model_validate(document.plain())
                except IssuesError as exc:
                    issues.extend(exc.issues)
                    continue
                except ValidationError as exc:
                    issues.extend(document.validation_issues(exc))
                    continue
                library.pieces[piece.id] = piece
        if issues:
            raise PieceError(issues)
        return library

    @classmethod
    def for_profile(cls, path: Path) -> PieceLibrary:
        """The pieces a profile file may include: the built-in ones and those of a
        ``pieces`` folder beside it."""
        return cls.load([builtin_pieces_dir(), path.parent / "pieces"])


@dataclass
class Expanded:
    """A profile document with its pieces merged in, and where each added part came from."""

    document: dict[str, Any]
    problems: list[tuple[Loc, str]]
    origins: dict[Loc, str]
    """the location of each part a piece added → that piece's id"""

    def origin(self, loc: Loc) -> str | None:
        """The piece that added what is at ``loc``, if a piece did."""
        for length in range(len(loc), 0, -1):
            found = self.origins.get(tuple(loc[:length]))
            if found is not None:
                return found
        return None


def expand(document: Mapping[str, Any], library: PieceLibrary) -> Expanded:
    """``document`` (a profile, as plain data) with the pieces it names merged in."""
    merged: dict[str, Any] = copy.deepcopy(dict(document))
    problems: list[tuple[Loc, str]] = []
    origins: dict[Loc, str] = {}
    wanted = merged.get("pieces") or {}
    if not isinstance(wanted, Mapping):
        return Expanded(merged, problems, origins)  # validation says what is wrong
    for name, given in wanted.items():
        at: Loc = ("pieces", str(name))
        piece = library.pieces.get(str(name))
        if piece is None:
            known = ", ".join(sorted(library.pieces)) or "none"
            problems.append((at, f"no piece {name!r} (the pieces: {known})"))
            continue
        values = dict(given or {}) if isinstance(given, Mapping) else None
        if values is None:
            problems.append((at, "a piece's parameters are a mapping"))
            continue
        unknown = sorted(set(values) - set(piece.params))
        missing = sorted(p for p, spec in piece.params.items() if spec.required and p not in values)
        for param in unknown:
            problems.append(((*at, param), f"piece {name} has no parameter {param!r}"))
        if missing:
            problems.append((at, f"piece {name} needs {', '.join(missing)}"))
        if unknown or missing:
            continue
        params = {p: values.get(p, spec.default) for p, spec in piece.params.items()}
        filled = _fill(piece.adds, params)
        _merge(merged, filled, (), str(name), problems, origins)
    return Expanded(merged, problems, origins)


def _fill(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole and whole.group(1) in params:
            return params[whole.group(1)]
        return _PART.sub(lambda m: str(params.get(m.group(1), m.group(0))), value)
    if isinstance(value, Mapping):
        return {key: _fill(item, params) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, params) for item in value]
    return value


def _holds_entries(loc: Loc) -> bool:
    """Whether the mapping at ``loc`` holds named entries a piece may add to (``faults``,
    ``translations.zh-Hans.metrics``…); any other mapping is one entry, said once."""
    if loc in {
        ("decode",),
        ("faults",),
        ("commands",),
        ("decode", "metrics"),
        ("ticket",),
        ("translations",),
    }:
        return True
    return (
        bool(loc)
        and loc[0] == "translations"
        and (len(loc) == 2 or (len(loc) == 3 and loc[2] in ("faults", "metrics")))
    )


def _merge(
    into: dict[str, Any],
    adds: Mapping[str, Any],
    loc: Loc,
    piece: str,
    problems: list[tuple[Loc, str]],
    origins: dict[Loc, str],
) -> None:
    for key, value in adds.items():
        here: Loc = (*loc, key)
        if into.get(key) is None:  # absent, or written empty (``rules:`` and nothing)
            into[key] = value
            origins[here] = piece
        elif _holds_entries(here) and isinstance(into[key], dict) and isinstance(value, Mapping):
            _merge(into[key], value, here, piece, problems, origins)
        elif isinstance(into[key], list) and isinstance(value, list):
            start = len(into[key])
            into[key].extend(value)
            for n in range(len(value)):
                origins[(*here, start + n)] = piece
        else:
            where = ".".join(map(str, here))
            problems.append((("pieces", piece), f"piece {piece} adds {where}, the profile's own"))
