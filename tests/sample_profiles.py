"""Small profiles built in code for tests that need a rule of every kind."""

from __future__ import annotations

from typing import Any

from device_profiles import Profile


def pump(**overrides: Any) -> Profile:
    """A small pump profile with one rule of every kind."""
    document: dict[str, Any] = {
        "schema": "linli.profile/v1",
        "id": "test_pump",
        "type": "water_pump",
        "name": "Test pump",
        "category": "water",
        "vendor": "Test",
        "version": "1.0.0",
        "heartbeat_s": 60,
        "topics": [{"pattern": "test/pump/{device_id}"}],
        "decode": {
            "metrics": {
                "pressure": {"source": {"path": "p"}, "unit": "bar"},
                "running": {"source": {"path": "run", "type": "bool"}},
                "hours": {"source": {"path": "h"}, "unit": "h"},
            },
            "faults": [{"path": "dry", "flag": "dry_run"}],
        },
        "faults": {
            "dry_run": {"title": "Dry run", "severity": "critical"},
            "low_pressure": {"title": "Low pressure", "severity": "major"},
            "service_due": {"title": "Service due", "severity": "minor"},
            "dry_run_repeatedly": {"title": "Dry runs keep happening", "severity": "major"},
            "offline": {"title": "Not reporting", "severity": "major"},
        },
        "rules": [
            {
                "fault": "low_pressure",
                "when": {"metric": "pressure", "op": "<", "value": 1.5},
                "while": [{"metric": "running", "op": "==", "value": True}],
                "for_s": 120,
            },
            {"fault": "service_due", "counter": {"metric": "hours", "every": 2000}},
            {
                "fault": "dry_run_repeatedly",
                "rate": {"fault": "dry_run", "count": 3, "window_s": 600},
            },
            {"fault": "offline", "silence": {"heartbeats": 3}},
        ],
        "ticket": {"skill": "plumbing"},
        "examples": [
            {
                "name": "normal",
                "topic": "test/pump/p1",
                "payload": {"p": 3, "run": True, "h": 10, "dry": False},
                "expect": {
                    "device_id": "p1",
                    "metrics": {"pressure": 3.0, "running": True, "hours": 10.0},
                },
            }
        ],
    }
    document.update(overrides)
    return Profile.model_validate(document)
