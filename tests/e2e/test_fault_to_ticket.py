"""End to end, in the production topology: simulated devices → gateway Mosquitto → edge agent
→ cloud Mosquitto → cloud ingest → health → tickets → REST API. Every part is a separate
``linli`` process, as ``linli demo`` runs them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from linli.mosquitto import Mosquitto
from tests.e2e.harness import System, eventually, running_system

pytestmark = pytest.mark.e2e

GATEWAY = "e2e-gw"


@pytest.fixture
def system(tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto) -> Iterator[System]:
    sim_args = ["--seed", "7", "--gates", "3", "--lights", "3", "--buttons", "2"]
    with running_system(
        tmp_path, gateway_broker, cloud_broker, gateway_id=GATEWAY, sim_args=sim_args
    ) as system:
        yield system


LIVE = ["open", "assigned", "acknowledged", "in_progress", "on_hold", "resolved", "verifying"]
"""The states of a ticket not yet closed or cancelled."""


def _gate_tickets(api: httpx.Client, facility_id: int) -> list[dict[str, Any]]:
    response = api.get(
        "/api/v1/tickets",
        params={"facility_id": facility_id, "state": LIVE},
    )
    response.raise_for_status()
    return [t for t in response.json() if t["fault"] == "motor_jammed"]


def _facility(api: httpx.Client, code: str) -> dict[str, Any] | None:
    found = [f for f in api.get("/api/v1/facilities").json() if f["code"] == code]
    return found[0] if found else None


def _device(api: httpx.Client, device_id: str) -> dict[str, Any] | None:
    """The device, once the cloud has heard from it."""
    found = [d for d in api.get("/api/v1/devices").json() if d["device_id"] == device_id]
    return found[0] if found else None


def test_gate_fault_becomes_one_ticket_and_repeats_attach(system: System) -> None:
    api = system.api
    eventually(system, lambda: _device(api, "gate-01"), "gate-01 reporting")
    gate = _facility(api, "gate-01")  # the site file made it; the device joined it
    assert gate is not None and gate["health"] == "ok"
    assert not _gate_tickets(api, gate["id"])

    # 8 simulated minutes: 8 s at the harness's speed, long enough to see the state
    system.sim("fault", "gate-01", "motor_jammed", "--duration", "8m")
    eventually(system, lambda: _facility(api, "gate-01")["health"] == "faulty", "gate-01 faulty")
    tickets = eventually(system, lambda: _gate_tickets(api, gate["id"]), "a ticket for gate-01")
    assert len(tickets) == 1
    ticket = tickets[0]
    assert ticket["title"] == "Gate motor jammed"
    assert ticket["priority"] == "high"
    assert ticket["device_id"] == "gate-01"
    assert ticket["state"] in ("open", "assigned")  # the repair rounds dispatch it

    # the fault ends: the ticket stays open and notes that the fault cleared
    cleared = eventually(
        system,
        lambda: (t := api.get(f"/api/v1/tickets/{ticket['id']}").json())["fault_cleared_at"] and t,
        "fault cleared on the ticket",
    )
    assert cleared["state"] in ("open", "assigned")
    assert _facility(api, "gate-01")["health"] == "ok"

    # the same fault again: attaches to the open ticket, opens no second one
    system.sim("fault", "gate-01", "motor_jammed", "--duration", "3")
    repeated = eventually(
        system,
        lambda: (t := api.get(f"/api/v1/tickets/{ticket['id']}").json())["occurrences"] == 2 and t,
        "the repeat attached to the ticket",
    )
    faults = [e["kind"] for e in repeated["events"] if e["actor_kind"] == "rule"]
    assert [k for k in faults if k in ("opened", "fault_cleared", "repeated")][:3] == [
        "opened",
        "fault_cleared",
        "repeated",
    ]
    assert len(_gate_tickets(api, gate["id"])) == 1
    everything = api.get("/api/v1/tickets", params={"facility_id": gate["id"]}).json()
    assert len(everything) == 1

    # resolved, then the fault recurs: the fix did not hold, the same ticket reopens
    assert api.post(f"/api/v1/tickets/{ticket['id']}/resolve").status_code == 200
    assert api.get(f"/api/v1/tickets/{ticket['id']}").json()["state"] == "verifying"
    # the gate stamps whole seconds: a jam in the same second as the repeat, with the same
    # counters, would be byte for byte the repeat's message — by the protocol the very
    # same reading, stored once. Real jams a second apart are two readings.
    time.sleep(1.1)
    system.sim("fault", "gate-01", "motor_jammed", "--duration", "3")
    reopened = eventually(
        system,
        lambda: (t := api.get(f"/api/v1/tickets/{ticket['id']}").json())["repeats"] == 1 and t,
        "the ticket reopened as a repeat failure",
    )
    assert reopened["state"] in ("open", "assigned")
    assert [t["id"] for t in _gate_tickets(api, gate["id"])] == [ticket["id"]]


def test_garbage_goes_to_dead_letter_and_good_data_keeps_flowing(system: System) -> None:
    api = system.api
    eventually(system, lambda: _device(api, "gate-02"), "gate-02 reporting")
    deadletter = system.edge_dir / "deadletter.jsonl"
    assert not deadletter.exists() or not deadletter.read_text().strip()

    system.sim("garbage", "gate-02")
    records = eventually(
        system,
        lambda: deadletter.exists() and deadletter.read_text().strip().splitlines(),
        "a dead-letter record at the edge",
    )
    record = json.loads(records[-1])
    assert "gate-02" in record["topic"]
    assert record["reason"]

    # readings from the same device keep arriving after the bad one
    def devices() -> dict[str, Any]:
        return {d["device_id"]: d for d in api.get("/api/v1/devices").json()}

    before = devices()["gate-02"]["last_seen_at"]
    eventually(
        system,
        lambda: devices()["gate-02"]["last_seen_at"] > before,
        "gate-02 readings after the garbage",
    )
