"""Problems located in a source: ``file:line: field: message``.

One :class:`Issue` per problem, collected into an :class:`IssuesError` so that a user sees
every problem of a file at once. :func:`validation_issues` turns a pydantic
``ValidationError`` into issues (with lines, given a way to find them);
:func:`validation_summary` into one line, for logs and dead-letter records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

Loc = tuple[str | int, ...]
"""Where in a document: mapping keys and list indexes from the root."""


@dataclass(frozen=True)
class Issue:
    """One problem in one source (a file, or a name such as ``<environment>``)."""

    file: Path | str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class IssuesError(Exception):
    """One or more problems; ``issues`` lists every one, the message one a line."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def dotted(loc: Sequence[Any]) -> str:
    """``("rules", 2, "for_s")`` as ``rules[2].for_s``."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def message_of(error: ErrorDetails) -> str:
    """pydantic's message without its ``Value error,`` prefix."""
    return error["msg"].removeprefix("Value error, ")


def validation_issues(
    exc: ValidationError,
    file: Path | str,
    *,
    line_of: Callable[[Loc], int | None] = lambda loc: None,
    prefix: Loc = (),
    message: Callable[[ErrorDetails], str] = message_of,
) -> list[Issue]:
    """Every error of ``exc`` as an :class:`Issue`, its field under ``prefix``.

    A ``too_short`` error on a list whose items have errors of their own is left out:
    pydantic counts only the items that validated, so it would only repeat them.
    """
    errors = exc.errors()
    issues = []
    for error in errors:
        loc: Loc = (*prefix, *error["loc"])
        if error["type"] == "too_short" and _has_inner_error(tuple(error["loc"]), errors):
            continue
        issues.append(Issue(file, line_of(loc), dotted(loc), message(error)))
    return issues


def _has_inner_error(loc: tuple[Any, ...], errors: Sequence[ErrorDetails]) -> bool:
    return any(len(e["loc"]) > len(loc) and tuple(e["loc"][: len(loc)]) == loc for e in errors)


def validation_summary(exc: ValidationError, *, root: str = "", limit: int = 5) -> str:
    """``exc`` on one line: the first ``limit`` errors as ``field: message``, then a count.

    An error of the whole value is named ``root`` (e.g. ``payload``), if given.
    """
    return errors_summary(exc.errors(), root=root, limit=limit)


def errors_summary(errors: Sequence[ErrorDetails], *, root: str = "", limit: int = 5) -> str:
    """Errors as pydantic details them (``ValidationError.errors()``, or FastAPI's request
    validation errors) on one line, as :func:`validation_summary` says them."""
    parts = []
    for error in errors[:limit]:
        where = dotted(error["loc"]) or root
        parts.append(f"{where}: {message_of(error)}" if where else message_of(error))
    more = len(errors) - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
