"""Root causes, not floods, end to end, as the real ``linli`` processes run them: street
lights of a zone failing together give one zone ticket that lists them, not a ticket each;
a gateway whose edge agent dies gives one gateway ticket, and its devices — silent behind
it for longer than their silence spans — are unknown, not faulty, and get no ticket.

The community is the simulator's (``linli sim site``), with the site file's root-cause
sections written by these tests before the cloud starts (:func:`_system`): a grouping rule
of our own for the lights; a gateway that is down after 30 s without a word (the least a
site file allows; the default is 2 minutes).

Silence is judged on real time (heartbeat_s times the silence rule's heartbeats), and the
catalogue's street lights (brightway_street_light) report every 300 s: they would be offline
only after 15 minutes. So they fail here by their alarm (``lamp_failure``, which the
simulator makes them send at once), and a site profile of quick street lights, offline after
3 missed heartbeats of 3 s (9 s), stands for lamps that lose their power. Durations given to
``linli sim fault`` are simulated time: at the harness's --speed 60, 10m is 10 s.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from linli.processes import Child
from tests.conftest import require_mosquitto
from tests.e2e.harness import System, eventually, system_with_profiles

pytestmark = pytest.mark.e2e

T = TypeVar("T")

ROOT_LIGHT = """\
# A street light on a zoned topic that reports every 3 s: silent for 3 heartbeats (9 s), it
# is offline. No alarms of its own: it fails by losing its power.
schema: linli.profile/v1
id: e2e_root_light
type: street_light
name: Quick street light
category: lighting
vendor: E2E
version: 0.1.0
heartbeat_s: 3
topics:
  - pattern: rootlight/{zone}/lamp/{device_id}/report
decode:
  timestamp: {path: ts, optional: true}
  metrics:
    on: {source: {path: relay, type: bool, map: {"ON": true, "OFF": false}}}
    current: {source: {path: current_mA, scale: 0.001}, unit: A, range: [0, 10]}
faults:
  offline: {title: Quick street light not reporting, severity: major}
rules:
  - fault: offline
    silence: {heartbeats: 3}
ticket: {skill: electrical, sla: standard}
examples:
  - name: normal_on
    topic: rootlight/zone-a/lamp/qlight-01/report
    payload: {ts: 1764201600, relay: "ON", current_mA: 420}
    expect: {device_id: qlight-01, metrics: {on: true, current: 0.42}, health: ok}
  - name: offline
    topic: rootlight/zone-a/lamp/qlight-01/report
    payload: {ts: 1764201600, relay: "ON", current_mA: 420}
    silent_for_s: 9
    expect:
      device_id: qlight-01
      metrics: {on: true, current: 0.42}
      faults: [offline]
      health: faulty
"""
PROFILES = {"e2e_root_light.yaml": ROOT_LIGHT}
QUICK_SPAN_S = 9.0
"""A quick street light's silence span: 3 heartbeats of 3 s."""

LIVE = ["open", "assigned", "acknowledged", "in_progress", "on_hold", "resolved", "verifying"]
"""The states of a ticket not yet closed or cancelled."""
STEP_S = 30.0
"""How long any one step may take: a ticket to open, a fault to clear."""


# ------------------------------------------------------------------------------ the site


@contextmanager
def _system(
    workdir: Path, edit: Callable[[dict[str, Any]], None], **options: Any
) -> Iterator[System]:
    """:func:`system_with_profiles` (with :data:`PROFILES`), its register made from the
    simulated community's site file with ``edit`` made to it."""
    with system_with_profiles(workdir, PROFILES, site_edit=edit, **options) as system:
        yield system


# ------------------------------------------------------------------------------ API helpers


def _get(api: httpx.Client, path: str, **params: Any) -> Any:
    response = api.get(path, params=params)
    response.raise_for_status()
    return response.json()


def _devices(api: httpx.Client) -> dict[str, dict[str, Any]]:
    return {d["device_id"]: d for d in _get(api, "/api/v1/devices")}


def _facilities(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """By code: a simulated device's facility has the device's id for code."""
    return {f["code"]: f for f in _get(api, "/api/v1/facilities")}


def _gateway(api: httpx.Client, gateway_id: str) -> dict[str, Any] | None:
    found = [g for g in _get(api, "/api/v1/gateways") if g["id"] == gateway_id]
    return found[0] if found else None


def _tickets(api: httpx.Client, *, live: bool = True) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"state": LIVE} if live else {}
    found: list[dict[str, Any]] = _get(api, "/api/v1/tickets", limit=1000, **params)
    return found


def _ticket(api: httpx.Client, ticket_id: int) -> dict[str, Any]:
    found: dict[str, Any] = _get(api, f"/api/v1/tickets/{ticket_id}")
    return found


def _healthy(api: httpx.Client, device_ids: Sequence[str]) -> bool:
    devices = _devices(api)
    return all(
        d in devices and devices[d]["health"] == "ok" and not devices[d]["faults"]
        for d in device_ids
    )


def _at(text: str) -> datetime:
    """An API timestamp as an aware datetime (SQLite hands back naive UTC ones)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------ zones

LIGHTS_GATEWAY = "zone-gw"
RULE = "e2e-lights-out"
RULE_TITLE = "Street lights out in the zone (power supply?)"
GROUPING = {
    RULE: {
        "title": RULE_TITLE,
        "category": "lighting",
        "faults": ["offline", "lamp_failure", "lamp_out"],
        "at_least": 3,
        "within": "5m",
        "skill": "electrical",
        "sla": "urgent",
        "priority": "high",
    }
}
"""Three or more lighting facilities of one zone failing within 5 minutes: one zone ticket
(each zone on its own). It replaces the simulated community's own rule."""
FOLDED = 2
"""The lamps that get a ticket of their own before the third makes it a zone's failure,
their tickets then folded into the zone ticket; the later ones join it."""

LIGHTS_SIM_ARGS = ["--seed", "21", "--gates", "2", "--lights", "8", "--buttons", "0"]
LIGHTS_SIM_ARGS += ["--count", "e2e_root_light=6"]
ZONE_A_LAMPS = ["light-a-01", "light-a-02", "light-a-03", "light-a-04"]  # brightway, zone-a
ZONE_B_LAMPS = ["light-b-01", "light-b-02", "light-b-03", "light-b-04"]  # brightway, zone-b
ZONE_A_QUICK = ["qlight-a-01", "qlight-a-02", "qlight-a-03"]
ZONE_B_QUICK = ["qlight-b-01", "qlight-b-02", "qlight-b-03"]
GATES = ["gate-01", "gate-02"]  # gate-01 in zone-a, gate-02 in zone-b; category access
LIGHTS_DEVICES = [*ZONE_A_LAMPS, *ZONE_B_LAMPS, *ZONE_A_QUICK, *ZONE_B_QUICK, *GATES]
LIGHTS_SETTINGS = {
    "LINLI_CLOUD_SILENCE_CHECK_S": "1",  # look for silent devices every second (default 5)
    "LINLI_EDGE_STATUS_INTERVAL_S": "1",  # the gateway heard every second (default 30)
}


def _with_grouping(site: dict[str, Any]) -> None:
    site["grouping"] = GROUPING


@pytest.fixture(scope="module")
def lights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    require_mosquitto()
    workdir = tmp_path_factory.mktemp("root-zones")
    with _system(
        workdir,
        _with_grouping,
        gateway_id=LIGHTS_GATEWAY,
        sim_args=LIGHTS_SIM_ARGS,
        env=LIGHTS_SETTINGS,
    ) as system:
        eventually(
            system, lambda: _healthy(system.api, LIGHTS_DEVICES), "every device reporting, healthy"
        )
        yield system


def _zone_ticket(api: httpx.Client, zone_id: int, members: set[int]) -> dict[str, Any] | None:
    """The zone's one live zone ticket, once it lists every facility of ``members``; never
    two of them."""
    zone = [t for t in _tickets(api) if t["scope"] == "zone" and t["zone_id"] == zone_id]
    assert len(zone) <= 1, f"more than one live zone ticket for zone {zone_id}: {zone}"
    if not zone:
        return None
    detail = _ticket(api, zone[0]["id"])
    listed = {f["facility_id"] for f in detail["facilities"]}
    return detail if listed >= members else None


def _check_one_zone_ticket(
    api: httpx.Client, zone: dict[str, Any], members: dict[int, str], fault: str
) -> None:
    """``zone`` is the one ticket of its zone's failed ``members`` (facility id → device):
    it lists exactly them, with the fault each showed; no live ticket of theirs beside it;
    those opened before it cancelled, linked to it."""
    assert zone["fault"] == f"group:{RULE}", zone
    assert (zone["title"], zone["skill"], zone["priority"]) == (RULE_TITLE, "electrical", "high")
    assert zone["facility_id"] is None and zone["device_id"] is None and zone["gateway_id"] is None
    assert zone["state"] in ("open", "assigned"), zone  # the repair rounds may dispatch it
    listed = {f["facility_id"]: f["fault"] for f in zone["facilities"]}
    assert listed == dict.fromkeys(members, fault), (listed, members)

    everything = _tickets(api, live=False)
    live = [t for t in everything if t["state"] in LIVE]
    theirs = [t for t in live if t["facility_id"] in members]
    assert not theirs, f"live tickets of the zone's failed lamps: {theirs}"
    folded = [t for t in everything if t["facility_id"] in members]
    assert len(folded) == FOLDED, folded
    for own in folded:
        assert (own["scope"], own["fault"], own["state"]) == ("facility", fault, "cancelled"), own
        assert own["linked_id"] == zone["id"], own
        [cancelled] = [e for e in _ticket(api, own["id"])["events"] if e["kind"] == "cancelled"]
        assert cancelled["actor_kind"] == "rule", cancelled
        assert f"zone ticket {zone['id']}" in cancelled["note"], cancelled


def _zone_cleared(api: httpx.Client, zone_id: int) -> dict[str, Any] | None:
    """The zone ticket, once it notes its fault cleared (every member's has)."""
    ticket = _ticket(api, zone_id)
    return ticket if ticket["fault_cleared_at"] else None


def test_lamps_of_a_zone_failing_together_give_one_zone_ticket(lights: System) -> None:
    """Every street light of zone-a reports a lamp failure at once (its supply, say), and
    zone-a's gate jams meanwhile: one zone ticket lists the four lamps; the gate, not
    lighting, has a ticket of its own; zone-b's lamps are not touched."""
    api = lights.api
    eventually(lights, lambda: _healthy(api, [*ZONE_A_LAMPS, "gate-01"]), "zone-a healthy")
    facilities = _facilities(api)
    lamps = {facilities[d]["id"]: d for d in ZONE_A_LAMPS}
    zone_a = facilities["light-a-01"]["zone_id"]
    assert {facilities[d]["zone_id"] for d in [*ZONE_A_LAMPS, "gate-01"]} == {zone_a}
    assert facilities["light-b-01"]["zone_id"] != zone_a
    watched = {facilities[d]["id"] for d in [*ZONE_A_LAMPS, *ZONE_B_LAMPS, "gate-01"]}
    assert not [t for t in _tickets(api, live=False) if t["facility_id"] in watched]

    lights.sim("fault", "zone:zone-a", "lamp_failure", "--category", "lighting", "--for", "10m")
    lights.sim("fault", "gate-01", "motor_jammed", "--for", "10m")

    zone = eventually(
        lights,
        lambda: _zone_ticket(api, zone_a, set(lamps)),
        "one zone ticket listing zone-a's four lamps",
        timeout=STEP_S,
    )
    assert zone["name"] == "North side", zone  # the zone's name (the simulated site's)
    _check_one_zone_ticket(api, zone, lamps, "lamp_failure")
    # the rule groups lighting: the jammed gate of the same zone is a facility's ticket
    [gate] = eventually(
        lights,
        lambda: [t for t in _tickets(api) if t["device_id"] == "gate-01"],
        "a ticket for gate-01",
        timeout=STEP_S,
    )
    assert (gate["scope"], gate["fault"]) == ("facility", "motor_jammed"), gate
    live_in_zone = [t["id"] for t in _tickets(api) if t["zone_id"] == zone_a]
    assert sorted(live_in_zone) == sorted([zone["id"], gate["id"]])
    zone_b_lamps = {facilities[d]["id"] for d in ZONE_B_LAMPS}
    assert not [t for t in _tickets(api, live=False) if t["facility_id"] in zone_b_lamps]

    # ten simulated minutes later the lamps work again: the zone ticket notes it once every
    # lamp's failure has cleared, and stays for its maintainer
    cleared = eventually(
        lights,
        lambda: _zone_cleared(api, zone["id"]),
        "the zone ticket noting zone-a's lamps working again",
        timeout=STEP_S,
    )
    assert all(f["cleared_at"] for f in cleared["facilities"]), cleared["facilities"]
    last = max(_at(f["cleared_at"]) for f in cleared["facilities"])
    assert _at(cleared["fault_cleared_at"]) == last, cleared  # the last lamp's
    assert cleared["state"] in ("open", "assigned"), cleared
    assert _healthy(api, ZONE_A_LAMPS)
    _check_one_zone_ticket(api, cleared, lamps, "lamp_failure")


def test_a_power_loss_in_a_zone_gives_one_zone_ticket_for_its_silent_lamps(
    lights: System,
) -> None:
    """zone-b's lighting loses its power: its lamps fall silent. The quick ones are offline
    after 9 s — one zone ticket lists them; the catalogue's (offline only after 15 minutes)
    are not failing yet, and zone-b's gate goes on working."""
    api = lights.api
    eventually(lights, lambda: _healthy(api, [*ZONE_B_QUICK, "gate-02"]), "zone-b healthy")
    facilities = _facilities(api)
    quick = {facilities[d]["id"]: d for d in ZONE_B_QUICK}
    zone_b = facilities["qlight-b-01"]["zone_id"]
    assert {facilities[d]["zone_id"] for d in [*ZONE_B_QUICK, *ZONE_B_LAMPS]} == {zone_b}
    zone_b_facilities = {facilities[d]["id"] for d in [*ZONE_B_QUICK, *ZONE_B_LAMPS, "gate-02"]}
    assert not [t for t in _tickets(api, live=False) if t["facility_id"] in zone_b_facilities]

    cut = _now()
    lights.sim("fault", "zone:zone-b", "power_loss", "--category", "lighting", "--for", "20m")

    zone = eventually(
        lights,
        lambda: _zone_ticket(api, zone_b, set(quick)),
        "one zone ticket listing zone-b's quick lights",
        timeout=QUICK_SPAN_S + STEP_S,
    )
    assert (_now() - cut).total_seconds() >= QUICK_SPAN_S - 1, "offline before its span"
    assert zone["name"] == "South side", zone
    _check_one_zone_ticket(api, zone, quick, "offline")
    live_in_zone = [t["id"] for t in _tickets(api) if t["zone_id"] == zone_b]
    assert live_in_zone == [zone["id"]]  # nor the catalogue's lamps, nor the gate

    # twenty simulated minutes later the power is back: the quick lights report again
    cleared = eventually(
        lights,
        lambda: _zone_cleared(api, zone["id"]),
        "the zone ticket noting zone-b's power back",
        timeout=STEP_S,
    )
    assert all(f["cleared_at"] for f in cleared["facilities"]), cleared["facilities"]
    assert cleared["state"] in ("open", "assigned"), cleared
    assert _healthy(api, ZONE_B_QUICK)
    _check_one_zone_ticket(api, cleared, quick, "offline")


# ------------------------------------------------------------------------------ a gateway

CUT_GATEWAY = "cut-gw"
OFFLINE_AFTER_S = 30.0
"""The community's ``gateway_offline.after``: the least a site file allows."""
CUT_SIM_ARGS = ["--seed", "23", "--gates", "2", "--lights", "0", "--buttons", "0"]
CUT_SIM_ARGS += ["--count", "e2e_root_light=4"]
CUT_QUICK = ["qlight-a-01", "qlight-a-02", "qlight-b-01", "qlight-b-02"]
CUT_DEVICES = [*GATES, *CUT_QUICK]
CUT_SETTINGS = {
    "LINLI_CLOUD_REPAIR_CHECK_S": "0.5",  # repair rounds, gateways' among them (default 5)
    "LINLI_CLOUD_SILENCE_CHECK_S": "1",
    "LINLI_EDGE_STATUS_INTERVAL_S": "1",
    "LINLI_EDGE_KEEPALIVE_S": "5",  # the least: a dead agent's will after 7.5 s at most
    "LINLI_EDGE_RECONNECT_MAX_S": "1",
}


def _with_quick_gateway_rule(site: dict[str, Any]) -> None:
    site["gateway_offline"] = {
        "after": f"{OFFLINE_AFTER_S:g}s",
        "skill": "general-repair",
        "sla": "urgent",
        "priority": "high",
    }


def _until(
    system: System,
    killed: Sequence[Child],
    probe: Callable[[], T | None],
    what: str,
    timeout: float,
) -> T:
    """:func:`eventually` for a system some of whose processes were ``killed`` on purpose:
    every other one must stay up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in system.processes.children:
            if any(child is gone for gone in killed):
                continue
            status = child.exit_status()
            assert status is None, f"{child.name} exited: {child.log_path.read_text()[-2000:]}"
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for: {what}")


def _no_device_blamed(api: httpx.Client) -> None:
    devices = _devices(api)
    faulty = {d: devices[d]["faults"] for d in CUT_DEVICES if devices[d]["faults"]}
    assert not faulty, f"devices behind the dead gateway judged faulty: {faulty}"
    tickets = [t for t in _tickets(api, live=False) if t["scope"] != "gateway"]
    assert not tickets, f"tickets besides the gateway's: {tickets}"


def _unknown(api: httpx.Client) -> dict[str, dict[str, Any]] | None:
    """The devices, once every one is shown unknown because its gateway is offline."""
    devices = _devices(api)
    shown = {(devices[d]["status"], devices[d]["status_reason"]) for d in CUT_DEVICES}
    return devices if shown == {("unknown", "gateway offline")} else None


def _gateway_ticket(api: httpx.Client) -> list[dict[str, Any]]:
    _no_device_blamed(api)
    return [t for t in _tickets(api) if t["fault"] == "gateway_offline"]


@pytest.mark.timeout(180)  # 30 s of silence at the least, on top of starting a whole system
def test_a_gateway_cut_gives_one_gateway_ticket_and_no_device_tickets(tmp_path: Path) -> None:
    require_mosquitto()
    with _system(
        tmp_path,
        _with_quick_gateway_rule,
        gateway_id=CUT_GATEWAY,
        sim_args=CUT_SIM_ARGS,
        env=CUT_SETTINGS,
    ) as system:
        api = system.api
        eventually(system, lambda: _healthy(api, CUT_DEVICES), "every device reporting, healthy")
        eventually(
            system, lambda: (g := _gateway(api, CUT_GATEWAY)) and g["online"], "gateway online"
        )
        assert not _tickets(api, live=False)

        # the edge agent dies at once: no offline status of its own, no DISCONNECT
        [edge] = [c for c in system.processes.children if c.name == "edge"]
        edge.signal_group(signal.SIGKILL)
        edge.process.wait()
        killed = [edge]
        cut = _now()

        # the broker publishes its last will: the gateway is offline, its devices unknown
        _until(
            system,
            killed,
            lambda: (g := _gateway(api, CUT_GATEWAY)) is not None and not g["online"],
            "the gateway offline by its last will",
            timeout=STEP_S,
        )
        _until(system, killed, lambda: _unknown(api), "its devices unknown", timeout=STEP_S)
        facilities = _facilities(api)
        shown = {(facilities[d]["status"], facilities[d]["status_reason"]) for d in CUT_DEVICES}
        assert shown == {("unknown", "gateway offline")}, "their facilities unknown too"

        # after 30 s without a word from it, the gateway is down: one ticket, the gateway's;
        # all the while no device is blamed, though the quick lights' spans pass thrice
        [ticket] = _until(
            system,
            killed,
            lambda: _gateway_ticket(api),
            "one gateway_offline ticket",
            timeout=OFFLINE_AFTER_S + STEP_S,
        )
        assert (_at(ticket["opened_at"]) - cut).total_seconds() >= OFFLINE_AFTER_S - 1, ticket
        assert (ticket["scope"], ticket["gateway_id"]) == ("gateway", CUT_GATEWAY), ticket
        assert ticket["facility_id"] is None and ticket["device_id"] is None, ticket
        assert (ticket["skill"], ticket["priority"]) == ("general-repair", "high"), ticket
        assert ticket["state"] in ("open", "assigned"), ticket
        assert ticket["fault_cleared_at"] is None, ticket
        assert (_now() - cut).total_seconds() > 3 * QUICK_SPAN_S
        assert [t["id"] for t in _tickets(api, live=False)] == [ticket["id"]]

        # the edge agent starts again: the gateway is back, its ticket notes the fault
        # cleared and stays for its maintainer; the devices are judged by their data again
        back = _now()
        system.processes.start("edge-again", edge.argv)
        cleared = _until(
            system,
            killed,
            lambda: (t := _ticket(api, ticket["id"]))["fault_cleared_at"] and t,
            "the gateway ticket noting the gateway back",
            timeout=STEP_S,
        )
        assert _at(cleared["fault_cleared_at"]) > back, cleared
        assert cleared["state"] in ("open", "assigned"), cleared
        assert [e["kind"] for e in cleared["events"]].count("fault_cleared") == 1
        gateway = _gateway(api, CUT_GATEWAY)
        assert gateway is not None and gateway["online"], gateway

        def judged_again() -> bool:
            """Every device ok, by a reading it made since the agent's return (not only
            by what the agent had kept)."""
            devices = _devices(api)
            return all(
                devices[d]["last_ts"]
                and _at(devices[d]["last_ts"]) > back
                and (devices[d]["status"], devices[d]["status_reason"]) == ("ok", None)
                for d in CUT_DEVICES
            )

        _until(system, killed, judged_again, "every device reporting and ok again", STEP_S)
        _no_device_blamed(api)
        assert [t["id"] for t in _tickets(api, live=False)] == [ticket["id"]]
