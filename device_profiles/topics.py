"""Topic patterns: MQTT topics with ``{name}`` placeholders, as profiles write them.

One rule for every pattern in a profile — the topics a device reports on, the topics its
commands go to — and for the ``{arg}`` placeholders of command payload templates:

- a placeholder is ``{name}``, ``name`` matching ``[a-z_][a-z0-9_]*``;
- in a topic it matches one or more characters within one topic level (never a ``/``);
- a name that appears twice must match the same text both times.

The profile format narrows this for the topics a device reports on: there a placeholder
fills a whole level and appears once (see :class:`device_profiles.schema.TopicSpec`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

NAME = r"[a-z_][a-z0-9_]*"
"""What a placeholder's name may be."""
PLACEHOLDER = re.compile(r"\{(" + NAME + r")\}")
"""One placeholder; its group is the name."""


def placeholders(pattern: str) -> list[str]:
    """The names of ``pattern``'s placeholders, in order (a repeated one each time)."""
    return PLACEHOLDER.findall(pattern)


@lru_cache(maxsize=4096)
def regex(pattern: str) -> re.Pattern[str]:
    """The regular expression of the topics ``pattern`` matches, a named group per
    placeholder (compiled once per pattern)."""
    parts: list[str] = []
    seen: set[str] = set()
    end = 0
    for found in PLACEHOLDER.finditer(pattern):
        name = found.group(1)
        parts.append(re.escape(pattern[end : found.start()]))
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>[^/]+)")
        seen.add(name)
        end = found.end()
    parts.append(re.escape(pattern[end:]))
    return re.compile("^" + "".join(parts) + r"\Z")


def match(pattern: str, topic: str) -> dict[str, str] | None:
    """The placeholders' values if ``topic`` is one of ``pattern``'s topics, else None."""
    found = regex(pattern).match(topic)
    return found.groupdict() if found else None


def fill(pattern: str, values: Mapping[str, str]) -> str:
    """``pattern`` with each placeholder named in ``values`` replaced by its value; the
    others are left as they are written."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), pattern)


def subscription(pattern: str) -> str:
    """The MQTT subscription filter that receives every topic of ``pattern``: each level
    with a placeholder becomes ``+``."""
    return "/".join("+" if PLACEHOLDER.search(level) else level for level in pattern.split("/"))


def subscriptions(patterns: Iterable[str]) -> tuple[str, ...]:
    """The filters that receive every topic of ``patterns``, each once, in order; a filter
    that another one covers is left out."""
    filters = dict.fromkeys(subscription(pattern) for pattern in patterns)
    return tuple(f for f in filters if not any(covers(g, f) for g in filters if g != f))


def covers(wider: str, narrower: str) -> bool:
    """Whether every topic the filter ``narrower`` receives also reaches ``wider`` (both
    filters of levels and ``+``, without ``#``)."""
    levels, others = wider.split("/"), narrower.split("/")
    return len(levels) == len(others) and all(
        a in ("+", b) for a, b in zip(levels, others, strict=True)
    )
