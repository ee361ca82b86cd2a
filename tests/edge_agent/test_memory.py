"""Per-device memory is bounded: at most so many devices, none idle for too long, the least
recently heard forgotten first — from memory only, never from the outbox."""

from __future__ import annotations

import json
from pathlib import Path

from device_profiles import Catalogue
from edge_agent.memory import Recency
from tests.edge_agent.helpers import agent_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_least_recently_set_go_first_past_the_cap() -> None:
    memory: Recency[str, int] = Recency(3, idle_s=60)
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        memory.set(key, value)
    memory.set("a", 10)  # a is recent again
    memory.set("d", 4)
    assert list(memory) == ["c", "a", "d"]
    assert memory.get("b") is None and memory.get("a") == 10
    assert (len(memory), memory.forgotten) == (3, 1)


def test_idle_entries_are_forgotten_and_recent_ones_counted() -> None:
    clock = FakeClock()
    memory: Recency[str, int] = Recency(100, idle_s=60, clock=clock)
    memory.set("old", 1)
    clock.now += 30
    memory.set("middle", 2)
    clock.now += 20
    assert memory.set_within(25) == 1
    assert memory.set_within(60) == 2
    clock.now += 15  # old has been idle 65 s, middle 35 s
    memory.set("new", 3)
    assert list(memory) == ["middle", "new"]
    assert memory.forgotten == 1


def test_a_flood_of_device_ids_stays_within_the_cap(tmp_path: Path, catalogue: Catalogue) -> None:
    """50 000 distinct devices report once each: every per-device map holds at most
    device_memory_max entries, every reading is still an item, and a device heard from
    lately can still be sent a command in its vendor's words."""
    cap = 2000
    agent = agent_for(tmp_path, catalogue, device_memory_max=cap)
    spec = catalogue["acme_access_gate"].topics[0]
    items = 0
    for n in range(50_000):
        body = {"ts": 1764201600 + n, "door": 0, "cycles": n, "motor_ma": 1200, "err": 0}
        items += (
            agent.process_device_message(spec.topic_for(f"gate-{n}"), json.dumps(body).encode())
            is not None
        )
    intake = agent.intake
    sizes = {
        "devices": len(intake.devices),
        "topics": len(intake.topics),
        "routes": len(agent.routes),
    }
    assert sizes == {"devices": cap, "topics": cap, "routes": cap}
    assert items == 50_000
    assert agent.counters["devices_in_memory"] == cap
    assert agent.counters["devices_forgotten"] == 50_000 - cap
    assert agent.routes.get("gate-0") is None
    assert agent.routes.get("gate-49999") == ("acme_access_gate", {})
    assert agent.process_command(
        b'{"id": "cmd-00000001", "device_id": "gate-49999", "command": "open", "args": {}}'
    )
