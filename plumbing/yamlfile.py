"""Reading a YAML file into plain Python values while keeping the line of every node.

:func:`read_mapping` reads a file whose top level must be a mapping, reporting every way it
can fail (unreadable, not UTF-8, not YAML, not a mapping) as an :class:`IssuesError` with
the line. The :class:`YamlDocument` it returns gives the plain values to validate and the
line of any location in them, so a validation error can say ``file:line: field: message``.
An alias inside the node it names (a loop) is refused when the file is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.scalarbool import ScalarBoolean

from plumbing.issues import Issue, IssuesError, Loc, dotted, message_of, validation_issues


@dataclass(frozen=True)
class YamlDocument:
    """A YAML mapping read from ``file``: its lines, and its values as plain Python."""

    file: Path
    root: CommentedMap

    def plain(self) -> dict[str, Any]:
        """The document as dicts, lists and scalars (mapping keys as text)."""
        plain = _plain(self.root)
        assert isinstance(plain, dict)
        return plain

    def line_of(self, loc: Loc) -> int | None:
        """1-based line of the deepest node on ``loc`` that exists in the document."""
        node: Any = self.root
        line: int | None = 1
        for part in loc:
            if isinstance(node, CommentedMap):
                key = next((k for k in node if str(k) == str(part)), None)
                if key is None or key not in node.lc.data:
                    break  # absent, or merged in from an anchor (``<<: *name``): no line here
                line = node.lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        return line

    def issue(self, loc: Loc, message: str) -> Issue:
        """A problem at ``loc``, with its line."""
        return Issue(self.file, self.line_of(loc), dotted(loc), message)

    def validation_issues(
        self,
        exc: ValidationError,
        *,
        prefix: Loc = (),
        message: Callable[[ErrorDetails], str] = message_of,
    ) -> list[Issue]:
        """Every error of ``exc`` (from validating the values at ``prefix``), with lines."""
        return validation_issues(
            exc, self.file, line_of=self.line_of, prefix=prefix, message=message
        )


def read_mapping(path: Path, *, what: str, hint: str = "") -> YamlDocument:
    """The YAML mapping in the file at ``path``; IssuesError saying why it is not one.

    ``what`` names the document in messages (``"a profile"``); ``hint`` says what the
    mapping should hold.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IssuesError([Issue(path, None, "", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IssuesError([Issue(path, line, "", f"not UTF-8 text: {exc.reason}")]) from None
    try:
        loop = _alias_loop(YAML(typ="rt").compose(text))
        if loop is not None:
            raise IssuesError([Issue(path, loop, "", "YAML: an alias refers to itself")])
        document = YAML(typ="rt").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        at = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise IssuesError([Issue(path, at, "", f"YAML: {problem}")]) from None
    except (ValueError, RecursionError) as exc:  # e.g. a timestamp out of range
        raise IssuesError([Issue(path, None, "", f"YAML: {exc}")]) from None
    if not isinstance(document, CommentedMap):
        expected = f"{what} must be a YAML mapping" + (f" ({hint})" if hint else "")
        message = f"empty file: {expected}" if document is None else expected
        raise IssuesError([Issue(path, 1, "", message)])
    return YamlDocument(path, document)


def _alias_loop(root: Node | None) -> int | None:
    """The 1-based line of an alias inside the very node it names (a loop), if any.

    ruamel composes an alias as the node it names, so the line is that of the mapping key
    or the sequence that holds it.
    """
    on_path: set[int] = set()
    done: set[int] = set()

    def visit(node: Node, line: int) -> int | None:
        if id(node) in on_path:
            return line
        if id(node) in done or not isinstance(node, MappingNode | SequenceNode):
            return None
        on_path.add(id(node))
        if isinstance(node, MappingNode):
            children = [
                (part, key.start_mark.line) for key, value in node.value for part in (key, value)
            ]
        else:
            children = [(item, node.start_mark.line) for item in node.value]
        for child, where in children:
            if (found := visit(child, where)) is not None:
                return found
        on_path.discard(id(node))
        done.add(id(node))
        return None

    found = visit(root, 0) if root is not None else None
    return None if found is None else found + 1


def _plain(node: Any) -> Any:
    """ruamel's values as plain ones; :func:`read_mapping` made sure no alias loops."""
    if isinstance(node, CommentedMap):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(value) for value in node]
    if isinstance(node, ScalarBoolean | bool):
        return bool(node)
    for kind in (str, int, float):  # ruamel's scalar subclasses as the plain type
        if isinstance(node, kind):
            return kind(node)
    return node
