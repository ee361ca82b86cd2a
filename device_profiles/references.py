"""Names in a profile that refer to each other, checked on the plain document.

A profile names its faults and metrics once and refers to them elsewhere: fault sources,
rules and examples name faults, rules name metrics. :func:`reference_problems` finds every
name that does not resolve, with where it is written, so that a loader can report each on
its line; :class:`device_profiles.schema.Profile` applies the same checks to a profile
built in code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from plumbing.issues import Loc

SNAKE_CASE = r"^[a-z][a-z0-9_]*$"
"""The form of profile ids, device types and fault names."""


def _entries(node: Any) -> list[tuple[int, Any]]:
    return list(enumerate(node)) if isinstance(node, (list, tuple)) else []


def reference_problems(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Names in a profile document that do not resolve, each with the location of the name.

    Works on the plain (alias-keyed) document so that a loader can report these problems
    with their lines even when other parts of the file fail validation; parts too malformed
    to check are skipped (validation reports them).
    """
    problems: list[tuple[Loc, str]] = []
    faults = data.get("faults", {})
    declared: set[str] | None = None
    if isinstance(faults, Mapping):
        declared = {str(name) for name in faults}
        for name in faults:
            if not re.match(SNAKE_CASE, str(name)):
                problems.append(
                    (("faults", str(name)), f"fault name {name!r} must be lower_snake_case")
                )
    decoding = data.get("decode")
    metrics = decoding.get("metrics", {}) if isinstance(decoding, Mapping) else None
    metric_names = {str(name) for name in metrics} if isinstance(metrics, Mapping) else None
    decoding = decoding if isinstance(decoding, Mapping) else {}

    def undeclared(fault: Any) -> bool:
        return declared is not None and isinstance(fault, str) and fault not in declared

    for i, source in _entries(decoding.get("faults")):
        if not isinstance(source, Mapping):
            continue
        codes = source.get("codes")
        if isinstance(codes, Mapping):
            for code, fault in codes.items():
                if undeclared(fault):
                    loc: Loc = ("decode", "faults", i, "codes", str(code))
                    problems.append((loc, f"decode.faults names undeclared fault {fault!r}"))
        if undeclared(source.get("flag")):
            loc = ("decode", "faults", i, "flag")
            problems.append((loc, f"decode.faults names undeclared fault {source['flag']!r}"))
    for i, rule in _entries(data.get("rules")):
        if not isinstance(rule, Mapping):
            continue
        fault = rule.get("fault")
        if undeclared(fault):
            problems.append((("rules", i, "fault"), f"rule names undeclared fault {fault!r}"))
        conditions: list[tuple[Loc, Any]] = [(("rules", i, "when"), rule.get("when"))]
        key = "while" if "while" in rule else "while_"
        conditions += [(("rules", i, key, j), cond) for j, cond in _entries(rule.get(key))]
        counter = rule.get("counter")
        if isinstance(counter, Mapping):
            conditions.append((("rules", i, "counter"), counter))
        for where, cond in conditions:
            if not isinstance(cond, Mapping) or metric_names is None:
                continue
            metric = cond.get("metric")
            if isinstance(metric, str) and metric not in metric_names:
                message = f"rule for {fault!r} reads unknown metric {metric!r}"
                problems.append(((*where, "metric"), message))
        rate = rule.get("rate")
        if isinstance(rate, Mapping) and undeclared(rate.get("fault")):
            loc = ("rules", i, "rate", "fault")
            problems.append((loc, f"rate rule counts undeclared fault {rate['fault']!r}"))
    for i, example in _entries(data.get("examples")):
        expect = example.get("expect") if isinstance(example, Mapping) else None
        if not isinstance(expect, Mapping):
            continue
        for k, fault in _entries(expect.get("faults")):
            if undeclared(fault):
                name = example.get("name")
                loc = ("examples", i, "expect", "faults", k)
                problems.append((loc, f"example {name!r} expects undeclared fault {fault!r}"))
    ticket = data.get("ticket")
    test = ticket.get("self_test") if isinstance(ticket, Mapping) else None
    commands = data.get("commands")
    if isinstance(test, str) and isinstance(commands, Mapping) and test not in commands:
        known = ", ".join(sorted(map(str, commands))) or "none"
        message = f"self_test names no command of the profile: {test!r} (its commands: {known})"
        problems.append((("ticket", "self_test"), message))
    return problems
