"""Profiles as people read them: the text ``linli profiles show`` and ``list`` print.

:func:`describe` lays one profile out in sections (identity, topics, metrics, faults,
rules, ticket template, examples, and any other section it has); :func:`profile_table`
is the table of many, :func:`summary` one profile's line of ``list --json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from device_profiles.schema import Field_, Profile


def profile_table(profiles: Iterable[Profile]) -> list[str]:
    """One line per profile: id, type, vendor/model, version, category, faults, examples."""
    rows = [["ID", "TYPE", "VENDOR/MODEL", "VERSION", "CATEGORY", "FAULTS", "EXAMPLES"]]
    for profile in profiles:
        vendor = f"{profile.vendor}/{profile.model}" if profile.model else profile.vendor
        rows.append(
            [
                profile.id,
                profile.type,
                vendor,
                profile.version,
                profile.category,
                str(len(profile.faults)),
                str(len(profile.examples)),
            ]
        )
    return table(rows)


def summary(profile: Profile) -> dict[str, Any]:
    """What ``linli profiles list --json`` says of ``profile``."""
    return {
        "id": profile.id,
        "name": profile.name,
        "type": profile.type,
        "vendor": profile.vendor,
        "model": profile.model,
        "version": profile.version,
        "category": profile.category,
        "heartbeat_s": profile.heartbeat_s,
        "faults": len(profile.faults),
        "examples": len(profile.examples),
    }


# Profile keys ``show`` lays out itself; any other non-empty key gets a generic section.
_SHOWN = {
    "schema", "id", "type", "name", "category", "vendor", "model", "version", "heartbeat_s",
    "topics", "decode", "faults", "rules", "ticket", "examples",
}  # fmt: skip


def describe(profile: Profile) -> list[str]:
    """The text ``linli profiles show`` prints for ``profile``."""
    document = profile.model_dump(mode="json", by_alias=True)
    brief = profile.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    timestamp = profile.decode.timestamp
    lines = [f"{profile.id}: {profile.name}"]
    identity = [
        ["type", profile.type],
        ["category", profile.category],
        ["vendor", profile.vendor],
        ["model", profile.model or "-"],
        ["version", profile.version],
        ["schema", document["schema"]],
        ["heartbeat", f"every {_number(profile.heartbeat_s)} s"],
        ["event time", _event_time(timestamp)],
    ]
    lines += table(identity, "  ")
    lines += ["", "topics (pattern, format, MQTT subscription)"]
    lines += table(
        [
            [
                spec.pattern,
                f"csv: {','.join(spec.columns)}" if spec.format == "csv" else spec.format,
                spec.subscription,
            ]
            for spec in profile.topics
        ],
        "  ",
    )
    lines += ["", "metrics"]
    metric_rows = [["NAME", "TYPE", "UNIT", "RANGE", "FROM"]]
    for name, metric in profile.decode.metrics.items():
        low_high = (
            f"[{_number(metric.range[0])}, {_number(metric.range[1])}]" if metric.range else "-"
        )
        source = _source(metric.source)
        if metric.description:
            source += f"  ({metric.description})"
        metric_rows.append([name, metric.source.type, metric.unit or "-", low_high, source])
    lines += table(metric_rows, "  ") if len(metric_rows) > 1 else ["  (none)"]
    lines += ["", "faults"]
    raised_by = _raised_by(profile, document)
    fault_rows = [["NAME", "SEVERITY", "PRIORITY", "TICKET", "RAISED BY", "TITLE"]]
    for name, fault in profile.faults.items():
        priority = fault.priority or profile.ticket.priority
        fault_rows.append(
            [
                name,
                fault.severity.value,
                priority.value + ("" if fault.priority else " (template)"),
                "yes" if fault.ticket else "no",
                ", ".join(raised_by.get(name, [])) or "-",
                fault.title,
            ]
        )
    lines += table(fault_rows, "  ") if len(fault_rows) > 1 else ["  (none)"]
    lines += ["", "rules"]
    rule_rows = [[rule["fault"], _rule_text(rule)] for rule in _dumps(profile.rules)]
    lines += table(rule_rows, "  ") if rule_rows else ["  (none)"]
    lines += ["", "ticket template"]
    lines += table([[key, _render(value)] for key, value in document["ticket"].items()], "  ")
    lines += ["", "examples (name, topic, expected result)"]
    lines += table(
        [
            [
                example.name,
                example.topic,
                example.expect.health.value
                + (f": {', '.join(example.expect.faults)}" if example.expect.faults else ""),
            ]
            for example in profile.examples
        ],
        "  ",
    )
    for key, value in brief.items():
        if key in _SHOWN or not value:
            continue
        lines += ["", key]
        if isinstance(value, dict):
            lines += table([[str(name), _render(item)] for name, item in value.items()], "  ")
        elif isinstance(value, list):
            lines += [f"  {_render(item)}" for item in value]
        else:
            lines.append(f"  {_render(value)}")
    return lines


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _event_time(timestamp: Field_ | None) -> str:
    if timestamp is None:
        return "time of receipt"
    where = _source(timestamp.model_copy(update={"optional": False}))
    return where + (", else time of receipt" if timestamp.optional else "")


def _source(source: Field_) -> str:
    """Where a value comes from: its path, then each piece that is not the default."""
    pieces = source.model_dump(
        mode="json", exclude_defaults=True, exclude={"path", "type", "optional"}
    )
    text = ", ".join([source.path, *(f"{key} {_render(value)}" for key, value in pieces.items())])
    return text + (" (optional)" if source.optional else "")


def _dumps(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", by_alias=True, exclude_defaults=True) for item in items]


def _raised_by(profile: Profile, document: dict[str, Any]) -> dict[str, list[str]]:
    """Fault name → what raises it: a payload field (``err=11``, ``pressed``) or a rule."""
    found: dict[str, list[str]] = {}
    for source in profile.decode.faults:
        if source.codes:
            for code, fault in source.codes.items():
                found.setdefault(fault, []).append(f"{source.path}={code}")
        elif source.flag:
            found.setdefault(source.flag, []).append(source.path)
    for rule in document["rules"]:
        found.setdefault(rule["fault"], []).append("rule")
    return found


def _rule_text(rule: dict[str, Any]) -> str:
    """A rule without its fault, e.g. ``when current < 0.05; while on == true``."""
    return "; ".join(f"{key} {_render(value)}" for key, value in rule.items() if key != "fault")


def _is_condition(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"metric", "op", "value"}


def _render(value: Any, nested: bool = False) -> str:
    """A JSON-like value compactly: conditions as ``metric op value``, mappings as k=v
    (in braces when inside another value), lists in brackets."""
    if _is_condition(value):
        return f"{value['metric']} {value['op']} {_render(value['value'], True)}"
    if isinstance(value, dict):
        text = ", ".join(f"{key}={_render(item, True)}" for key, item in value.items())
        return f"{{{text}}}" if nested else text
    if isinstance(value, list):
        if value and all(_is_condition(item) for item in value):
            return " and ".join(_render(item) for item in value)
        return "[" + ", ".join(_render(item, True) for item in value) + "]"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return _number(value)
    return json.dumps(value, ensure_ascii=False)


def table(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Rows as left-aligned columns two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
