"""Names in a profile that refer to each other, checked on the plain document.

A profile names its faults and metrics once and refers to them elsewhere: fault sources,
rules, examples and translations name faults, rules, ``usage`` and translations name
metrics (``usage`` one of the kind it measures by). :func:`reference_problems` finds every
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
    problems += _usage_problems(data.get("usage"), metrics)
    problems += _translation_problems(data.get("translations"), declared, metric_names)
    ticket = data.get("ticket")
    test = ticket.get("self_test") if isinstance(ticket, Mapping) else None
    commands = data.get("commands")
    if isinstance(test, str) and isinstance(commands, Mapping) and test not in commands:
        known = ", ".join(sorted(map(str, commands))) or "none"
        message = f"self_test names no command of the profile: {test!r} (its commands: {known})"
        problems.append((("ticket", "self_test"), message))
    return problems


def _translation_problems(
    translations: Any, faults: set[str] | None, metrics: set[str] | None
) -> list[tuple[Loc, str]]:
    """A translation may only word the profile's own faults and metrics."""
    problems: list[tuple[Loc, str]] = []
    if not isinstance(translations, Mapping):
        return problems
    for language, words in translations.items():
        if not isinstance(words, Mapping):
            continue
        for part, known in (("faults", faults), ("metrics", metrics)):
            named = words.get(part)
            if known is None or not isinstance(named, Mapping):
                continue
            for name in named:
                if str(name) not in known:
                    loc: Loc = ("translations", str(language), part, str(name))
                    problems.append(
                        (loc, f"translation {language} words unknown {part[:-1]} {name!r}")
                    )
    return problems


def _usage_problems(usage: Any, metrics: Any) -> list[tuple[Loc, str]]:
    """``usage`` must name a metric of the right kind: a counter an int metric, a state a
    bool or str metric, with a value it can have."""
    if not isinstance(usage, Mapping) or not isinstance(metrics, Mapping):
        return []
    counter, state = usage.get("counter"), usage.get("state")
    if isinstance(counter, str):
        loc: Loc = ("usage", "counter")
        if counter not in metrics:
            return [(loc, f"usage counts unknown metric {counter!r}")]
        kind = _source_type(metrics[counter])
        if kind != "int":
            return [(loc, f"usage counter {counter!r} must be an int metric, not {kind}")]
        return []
    if not isinstance(state, Mapping) or not isinstance(state.get("metric"), str):
        return []
    metric, value = state["metric"], state.get("value")
    loc = ("usage", "state", "metric")
    if metric not in metrics:
        return [(loc, f"usage reads unknown metric {metric!r}")]
    kind = _source_type(metrics[metric])
    if kind not in ("bool", "str"):
        return [(loc, f"usage state {metric!r} must be a bool or str metric, not {kind}")]
    source = metrics[metric].get("source") if isinstance(metrics[metric], Mapping) else None
    mapped = source.get("map") if isinstance(source, Mapping) else None
    loc = ("usage", "state", "value")
    if kind == "bool" and not isinstance(value, bool):
        return [(loc, f"usage state {metric!r} is a bool metric: its value is true or false")]
    if kind == "str" and not isinstance(value, str):
        return [(loc, f"usage state {metric!r} is a str metric: its value is text")]
    if isinstance(mapped, Mapping) and value not in mapped.values():
        known = ", ".join(sorted({str(v) for v in mapped.values()}))
        return [(loc, f"{metric!r} never decodes to {value!r} (its values: {known})")]
    return []


def _source_type(metric: Any) -> str:
    """A metric's canonical type as its source says (``float`` by default)."""
    source = metric.get("source") if isinstance(metric, Mapping) else None
    kind = source.get("type", "float") if isinstance(source, Mapping) else "float"
    return str(kind)
