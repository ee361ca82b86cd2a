"""A device type added as one YAML file, and nothing else, goes the whole way: the simulator
speaks it, the edge agent decodes it, the cloud judges it and opens a ticket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from linli.mosquitto import Mosquitto
from tests.e2e.harness import System, eventually, running_system

pytestmark = pytest.mark.e2e

PARCEL_LOCKER = """\
# Parcel locker bank, JSON on lockers/<device>/telemetry (a site's own device type).
schema: linli.profile/v1
id: sitebox_parcel_locker
type: parcel_locker
name: Parcel locker bank
category: delivery
vendor: SiteBox
version: 0.1.0
heartbeat_s: 120
topics:
  - pattern: lockers/{device_id}/telemetry
decode:
  metrics:
    free_boxes: {source: {path: free, type: int}, range: [0, 200]}
  faults:
    - {path: jam, flag: door_jammed}
faults:
  door_jammed:
    title: A locker door is jammed
    severity: major
    priority: high
ticket: {skill: general-repair, sla: standard}
examples:
  - name: normal
    topic: lockers/locker-01/telemetry
    payload: {free: 12, jam: false}
    expect: {device_id: locker-01, metrics: {free_boxes: 12}}
  - name: door_jammed
    topic: lockers/locker-01/telemetry
    payload: {free: 12, jam: true}
    expect: {device_id: locker-01, metrics: {free_boxes: 12}, faults: [door_jammed], health: faulty}
"""


@pytest.fixture
def system(tmp_path: Path, gateway_broker: Mosquitto, cloud_broker: Mosquitto) -> Iterator[System]:
    site = tmp_path / "site-profiles"
    site.mkdir()
    (site / "sitebox_parcel_locker.yaml").write_text(PARCEL_LOCKER)
    sim_args = ["--gates", "0", "--lights", "0", "--buttons", "0"]
    sim_args += ["--count", "sitebox_parcel_locker=2"]
    with running_system(
        tmp_path, gateway_broker, cloud_broker,
        gateway_id="site-gw", sim_args=sim_args, profiles_dir=site,
    ) as system:  # fmt: skip
        yield system


def test_a_new_type_from_one_yaml_file_becomes_a_ticket(system: System) -> None:
    api = system.api

    def lockers() -> list[dict[str, object]]:
        return [d for d in api.get("/api/v1/devices").json() if d["device_type"] == "parcel_locker"]

    found = eventually(system, lambda: len(lockers()) == 2 and lockers(), "both lockers reporting")
    locker = sorted(found, key=lambda d: str(d["device_id"]))[0]
    assert locker["profile"] == "sitebox_parcel_locker"
    assert locker["profile_version"] == "0.1.0"
    assert locker["metrics"] == {"free_boxes": 12}

    system.sim("fault", str(locker["device_id"]), "door_jammed", "--duration", "30")
    tickets = eventually(
        system,
        lambda: api.get("/api/v1/tickets", params={"state": "open"}).json(),
        "a ticket for the jammed locker",
    )
    assert [(t["device_id"], t["fault"], t["priority"]) for t in tickets] == [
        (locker["device_id"], "door_jammed", "high")
    ]
    assert tickets[0]["title"] == "A locker door is jammed"
