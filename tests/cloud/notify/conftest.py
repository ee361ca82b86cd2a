"""The community of the notification tests — the repair loop's (office hours in Shanghai, a
gate behind gw-1 in zone north) with addresses: Zhang manages it, Chen supervises, Wang
fixes gates and also takes MQTT push, Li fixes gates but wants no e-mail — and a clock the
tests move, and notifiers on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from cloud.notify.notifier import Notifier
from cloud.services import Services
from tests.cloud.repair.community import FRIDAY_1630, community, person, set_up

PEOPLE: dict[str, dict[str, Any]] = {
    "zhang": {"name": "Zhang", "role": "property_manager", "email": "zhang@oak.example"},
    "chen": {"name": "Chen", "role": "supervisor", "email": "chen@oak.example"},
    "wang": {
        "name": "Wang",
        "role": "maintainer",
        "skills": ["access-control"],
        "email": "wang@oak.example",
        "channels": {"email": True, "mqtt": True},
    },
    "li": {
        "name": "Li",
        "role": "maintainer",
        "skills": ["plumbing"],
        "email": "li@oak.example",
        "channels": {"email": False},
    },
}


@dataclass
class Clock:
    now: datetime = FRIDAY_1630

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def oak(services: Services) -> dict[str, int]:
    """The community applied; the people's ids by slug."""
    set_up(services, community(**PEOPLE))
    return {slug: person(services, slug) for slug in PEOPLE}


@pytest.fixture
def clock() -> Clock:
    return Clock()


def notifier_of(services: Services, clock: Clock, **settings: Any) -> Notifier:
    """A notifier of ``services`` on ``clock``, its settings changed by ``settings`` (no MQTT
    push unless asked: no broker runs)."""
    changed = services.settings.model_copy(update={"notify_mqtt": False, **settings})
    return Notifier.from_settings(changed, services.sessions, services.metrics, clock)
