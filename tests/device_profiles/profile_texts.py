"""Profile files for the tests: a valid one, one with four mistakes, one with a rule of every
kind; and writing them, and finding a line in them."""

from __future__ import annotations

import textwrap
from pathlib import Path

VALID = textwrap.dedent(
    """\
    schema: linli.profile/v1
    id: test_water_pump
    type: water_pump
    name: Booster pump
    category: water
    vendor: Test Pumps
    version: 1.0.0
    heartbeat_s: 120
    topics:
      - pattern: testpump/{device_id}/telemetry
    decode:
      metrics:
        pressure:
          source: {path: p, scale: 0.1}
          unit: bar
          range: [0, 20]
      faults:
        - {path: dry, flag: dry_run}
    faults:
      dry_run:
        title: Pump running dry
        severity: critical
      low_pressure:
        title: Pressure low
        severity: minor
    rules:
      - fault: low_pressure
        when: {metric: pressure, op: "<", value: 1.5}
    ticket:
      skill: plumbing
    examples:
      - name: normal
        topic: testpump/pump-1/telemetry
        payload: {p: 32, dry: false}
        expect:
          device_id: pump-1
          metrics: {pressure: 3.2}
      - name: dry_run
        topic: testpump/pump-1/telemetry
        payload: {p: 30, dry: true}
        expect:
          device_id: pump-1
          metrics: {pressure: 3.0}
          faults: [dry_run]
          health: faulty
      - name: low_pressure
        topic: testpump/pump-1/telemetry
        payload: {p: 10, dry: false}
        expect:
          device_id: pump-1
          metrics: {pressure: 1.0}
          faults: [low_pressure]
          health: degraded
    """
)

# Four independent mistakes in one file.
BROKEN = (
    VALID.replace("heartbeat_s: 120", "heartbeat_s: often")
    .replace("vendor: Test Pumps", "vendor: Test Pumps\ncolour: red")
    .replace("pattern: testpump/{device_id}/telemetry", "pattern: testpump/telemetry")
    .replace("  - fault: low_pressure", "  - fault: exploded")
)


def line_of(text: str, fragment: str) -> int:
    """1-based line of the only line of ``text`` containing ``fragment``."""
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(lines) == 1, f"{fragment!r} is on lines {lines}"
    return lines[0]


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# A site profile with a rule of every kind and a command, for ``show``.
EVERY_RULE_KIND = (
    VALID.replace(
        "rules:\n",
        "rules:\n"
        "  - fault: offline\n"
        "    silence: {heartbeats: 3}\n"
        "  - fault: dry_often\n"
        "    rate: {fault: dry_run, count: 3, window_s: 3600}\n",
    )
    .replace(
        "faults:\n  dry_run:\n",
        "faults:\n"
        "  offline: {title: Pump silent}\n"
        "  dry_often: {title: Runs dry often, severity: major, ticket: false}\n"
        "  dry_run:\n",
    )
    .replace(
        "ticket:\n",
        "commands:\n"
        "  reset:\n"
        "    description: Reset the controller\n"
        "    topic: testpump/{device_id}/cmd\n"
        "    payload: {op: reset}\n"
        "ticket:\n",
    )
)


# ... with examples for those rules: a silence and a history of dry runs.
EVERY_RULE_KIND_EXAMPLES = EVERY_RULE_KIND + (
    "  - name: offline\n"
    "    topic: testpump/pump-1/telemetry\n"
    "    payload: {p: 32, dry: false}\n"
    "    silent_for_s: 360\n"
    "    expect: {device_id: pump-1, metrics: {pressure: 3.2}, faults: [offline], health: faulty}\n"
    "  - name: dry_often\n"
    "    topic: testpump/pump-1/telemetry\n"
    "    history:\n"
    "      - {payload: {p: 30, dry: true}, before_s: 600}\n"
    "      - {payload: {p: 30, dry: false}, before_s: 500}\n"
    "      - {payload: {p: 30, dry: true}, before_s: 400}\n"
    "      - {payload: {p: 30, dry: false}, before_s: 300}\n"
    "    payload: {p: 30, dry: true}\n"
    "    expect:\n"
    "      device_id: pump-1\n"
    "      metrics: {pressure: 3.0}\n"
    "      faults: [dry_run, dry_often]\n"
    "      health: faulty\n"
)
