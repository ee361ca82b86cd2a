"""/api/v1/figures/utilisation on a scripted day of a small community — gates and a lift
that count, lamps and chargers whose state is their use, a help point that measures nothing
— with the figures worked out by hand; scoped by role and community like the repair figures,
filtered, grouped, with idle thresholds and shorter periods; on every telemetry store
(SQLite, PostgreSQL, InfluxDB). The arithmetic's edge cases are
tests/cloud/telemetry/test_usage.py's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.access.roles import Role
from cloud.db.models import Community
from cloud.register.sites import apply_site
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.site import Site
from tests.cloud.communities import client_as, person_id
from tests.cloud.conftest import TEST_GATEWAYS, log_in, make_account
from tests.cloud.helpers import GATE, LIGHT, batch, reported, rolled_up

UTILISATION = "/api/v1/figures/utilisation"
SHANGHAI = ZoneInfo("Asia/Shanghai")
D0 = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
"""The day: the day before yesterday in Shanghai, within every retention of telemetry."""
LIFT, CHARGER, BUTTON = "liftsafe_elevator", "voltgo_ev_charger", "safecall_alarm_button"
H = 3600


def local(hours: float) -> datetime:
    """That many hours after the day's midnight (negative: the evening before)."""
    return D0 + timedelta(hours=hours)


# facility code: (name, zone, category, its devices on gw-1)
FACILITIES = {
    "east-gate": ("East gate", "north", "access", ["gate-e"]),
    "west-gate": ("West gate", "south", "access", ["gate-w"]),
    "lift-1": ("Lift 1", "north", "vertical_transport", ["lift-1"]),
    "path-lights": ("Path lights", "north", "lighting", ["lamp-1", "lamp-2"]),
    "stair-light": ("Stair light", "north", "lighting", ["lamp-4"]),
    "garden-light": ("Garden light", "south", "lighting", ["lamp-3"]),
    "charger-1": ("Charger 1", "south", "ev_charging", ["cp-1"]),
    "charger-2": ("Charger 2", "south", "ev_charging", ["cp-2"]),
    "help-point": ("Help point", "north", "alarm", ["sos-1"]),
}


def sites() -> list[Site]:
    tests = {
        "schema": "linli.site/v1",
        "community": {"id": "tests", "name": "Tests", "time_zone": "Asia/Shanghai"},
        "zones": {"north": {"name": "North"}, "south": {"name": "South"}},
        "gateways": {g: {"new_devices": "own-facility"} for g in TEST_GATEWAYS},
        "facilities": {
            code: {
                "name": name,
                "zone": zone,
                "category": category,
                "devices": [{"gateway": "gw-1", "device": d} for d in devices],
            }
            for code, (name, zone, category, devices) in FACILITIES.items()
        },
        "people": {"li": {"name": "Li", "role": "maintainer", "zones": ["north"]}},
    }
    elm = {
        "schema": "linli.site/v1",
        "community": {"id": "elm", "name": "Elm", "time_zone": "Asia/Shanghai"},
        "gateways": {"gw-elm": {}},
        "facilities": {
            "gate": {
                "name": "elm gate",
                "category": "access",
                "devices": [{"gateway": "gw-elm", "device": "gate-x"}],
            }
        },
    }
    return [Site.model_validate(tests), Site.model_validate(elm)]


def the_day(catalogue: Catalogue) -> list[tuple[str, Any]]:
    """What each device reports, local times (hours after midnight; the day is [0, 24))."""
    gate = lambda device, hours, cycles: (device, GATE, hours, {"cycles": cycles})  # noqa: E731
    lift = lambda hours, trips: ("lift-1", LIFT, hours, {"trips": trips})  # noqa: E731
    lamp = lambda device, hours, on: (device, LIGHT, hours, {"on": on})  # noqa: E731

    def charger(device: str, hours: float, charging: bool) -> tuple[str, str, float, Any]:
        state = {"state": "charging", "power": 6.85} if charging else {"state": "available"}
        return (device, CHARGER, hours, state)

    script = [
        # gate-e: 1000 before midnight, 1260 by 23:48: 260 passages (and 1300 the next day)
        gate("gate-e", -0.2, 1000),
        gate("gate-e", 8, 1010),
        gate("gate-e", 12, 1100),
        gate("gate-e", 18, 1250),
        gate("gate-e", 23.8, 1260),
        gate("gate-e", 24.2, 1300),
        # gate-w: heard, never used
        gate("gate-w", -0.1, 500),
        gate("gate-w", 9, 500),
        gate("gate-w", 15, 500),
        # lift-1: 20000 trips; its controller is replaced at 10:30 and counts from 0 again:
        # 40 + 60, then 5 (from 0) + 55 + 40 = 200 trips
        lift(-0.05, 20000),
        lift(7, 20040),
        lift(10, 20100),
        lift(10.5, 5),
        lift(14, 60),
        lift(20, 100),
        # lamp-1: on since the evening before, off 06:00, on 18:00 to the night: 12 h
        lamp("lamp-1", -2, True),
        lamp("lamp-1", 6, False),
        lamp("lamp-1", 18, True),
        lamp("lamp-1", 23.9, True),
        lamp("lamp-1", 24.1, True),
        # lamp-2: on 19:00 to 23:00: 4 h
        lamp("lamp-2", -1, False),
        lamp("lamp-2", 19, True),
        lamp("lamp-2", 23, False),
        lamp("lamp-2", 24.05, False),
        # lamp-3: on at 20:00, last heard 20:30, silent after 15 min (3 x 300 s): 45 min
        lamp("lamp-3", -0.5, False),
        lamp("lamp-3", 20, True),
        lamp("lamp-3", 20.5, True),
        # lamp-4: last heard on at 22:00 the evening before: silent, not counted in use
        lamp("lamp-4", -2, True),
        # cp-1: charging 01:00-03:30 and 19:10-21:40: 5 h
        charger("cp-1", -1, False),
        charger("cp-1", 1, True),
        charger("cp-1", 3.5, False),
        charger("cp-1", 19 + 10 / 60, True),
        charger("cp-1", 21 + 40 / 60, False),
        charger("cp-1", 23.9, False),
        # cp-2: never charging
        charger("cp-2", -1, False),
        charger("cp-2", 12, False),
        charger("cp-2", 23, False),
        # the help point measures no use
        ("sos-1", BUTTON, 9, {"battery": 87.0}),
    ]
    return [
        ("gw-1", reported(catalogue, profile, device, local(hours), **metrics))
        for device, profile, hours, metrics in script
    ] + [
        ("gw-elm", reported(catalogue, GATE, "gate-x", local(hours), cycles=cycles))
        for hours, cycles in ((-0.5, 7000), (12, 7030))  # elm's gate: 30 passages
    ]


@pytest.fixture
def day(any_store_services: Services, catalogue: Catalogue) -> Iterator[dict[str, int]]:
    """The day's readings stored and rolled up; the communities' ids by slug."""
    services = any_store_services
    with services.sessions.begin() as session:
        for found in sites():
            apply_site(session, found, datetime.now(SHANGHAI), services.tickets)
    seq: dict[str, int] = {}
    for gateway, reading in the_day(catalogue):
        seq[gateway] = seq.get(gateway, 0) + 1
        services.writer.write(batch(gateway, seq[gateway], [reading]))
    rolled_up(services.upkeep, local(26))
    with services.sessions() as session:
        yield dict(session.execute(select(Community.slug, Community.id)).tuples().all())


def utilisation(client: TestClient, start: float = 0, end: float = 24, **params: Any) -> Any:
    answer = client.get(
        UTILISATION,
        params={"from": local(start).isoformat(), "to": local(end).isoformat(), **params},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_day_by_hand(any_store_services: Services, day: dict[str, int]) -> None:
    """9 facilities, 8 measured (not the help point); idle: the west gate (0 passages),
    charger 2 (never charging), the stair light (silent since the evening before). Uses:
    260 passages + 200 trips = 460. In use: path lights 12 h + 4 h, the garden light 45 min,
    charger 1 5 h: 78 300 s."""
    with client_as(any_store_services, "chen", Role.SUPERVISOR, day["tests"]) as chen:
        found = utilisation(chen)
        assert (found["community_id"], found["idle_uses"], found["idle_s"]) == (day["tests"], 0, 0)
        assert datetime.fromisoformat(found["from"]) == local(0)
        assert (found["facilities"], found["measured"], found["idle"], found["silent"]) == (
            9,
            8,
            3,
            1,
        )
        assert (found["uses"], found["in_use_s"]) == (460, 16 * H + 45 * 60 + 5 * H)
        listed = [
            (f["code"], f["uses"], f["in_use_s"], f["idle"], f["silent"])
            for f in found["least_used"]
        ]
        assert listed == [  # idle first, then by category and use
            ("west-gate", 0, None, True, False),
            ("charger-2", None, 0.0, True, False),
            ("stair-light", None, 0.0, True, True),
            ("east-gate", 260, None, False, False),
            ("charger-1", None, 5 * H, False, False),
            ("garden-light", None, 45 * 60, False, False),
            ("path-lights", None, 16 * H, False, False),
            ("lift-1", 200, None, False, False),
        ]
        path = next(f for f in found["least_used"] if f["code"] == "path-lights")
        assert (path["devices"], path["readings"]) == (2, 3 + 2)
        assert path["in_use_share"] == pytest.approx(16 / 48)  # two lamps over a day
        east = found["least_used"][3]
        assert (east["readings"], east["in_use_share"]) == (4, None)
        kinds = [(m["device_type"], m["kind"], m["metric"], m["value"]) for m in found["measures"]]
        assert kinds == [
            ("access_gate", "counter", "cycles", None),
            ("elevator", "counter", "trips", None),
            ("ev_charger", "state", "state", "charging"),
            ("street_light", "state", "on", True),
        ]
        sums = [
            (m["devices"], m["facilities"], m["uses"], m["in_use_s"]) for m in found["measures"]
        ]
        assert sums == [
            (2, 2, 260, None),
            (1, 1, 200, None),
            (2, 2, None, 5 * H),
            (4, 3, None, 16 * H + 45 * 60),
        ]


def test_groups_filters_thresholds_and_shorter_periods(
    any_store_services: Services, day: dict[str, int]
) -> None:
    with client_as(any_store_services, "zhang", Role.PROPERTY_MANAGER, day["tests"]) as zhang:
        by_zone = utilisation(zhang, group_by="zone")
        assert [
            (g["name"], g["facilities"], g["measured"], g["idle"], g["uses"], g["in_use_s"])
            for g in by_zone["groups"]
        ] == [
            ("North", 5, 4, 1, 460, 16 * H),  # east gate, lift, path and stair lights
            ("South", 4, 4, 2, 0, 45 * 60 + 5 * H),  # west gate, garden light, chargers
        ]
        north = by_zone["groups"][0]["key"]
        assert utilisation(zhang, zone_id=north)["uses"] == 460
        lighting = utilisation(zhang, category="lighting")
        assert (lighting["facilities"], lighting["idle"], lighting["uses"]) == (3, 1, 0)
        by_category = utilisation(zhang, group_by="category")
        assert {g["key"]: g["measured"] for g in by_category["groups"]} == {
            "access": 2,
            "alarm": 0,
            "ev_charging": 2,
            "lighting": 3,
            "vertical_transport": 1,
        }

        # little use counts as none: 260 passages, 200 trips, 45 minutes lit
        loose = utilisation(zhang, idle_uses=300, idle_s=3000, top=2)
        assert (loose["idle"], len(loose["least_used"])) == (6, 2)

        # 20:00-22:00: the lift's 20:00 reading counts 40 trips since 14:00; the gates
        # none; path lights on since 18:00 and 19:00 (2 h each), the garden light 20:00 to
        # its silence at 20:45, charger 1 charging since 19:10 until 21:40 (1 h 40 min)
        evening = utilisation(zhang, 20, 22)
        assert (evening["uses"], evening["idle"]) == (40, 4)
        assert evening["in_use_s"] == 4 * H + 45 * 60 + 100 * 60

        empty = utilisation(zhang, 22, 20)
        assert (empty["facilities"], empty["measured"], empty["uses"], empty["groups"]) == (
            0,
            0,
            0,
            [],
        )


def test_each_sees_their_own_community_and_zones(
    any_store_services: Services, day: dict[str, int]
) -> None:
    """A supervisor sees their community's figures even when asking for another one's; a
    maintainer of the north zone its facilities alone; an operator every community, or
    the one chosen. Reading them takes telemetry:read."""
    services = any_store_services
    make_account(
        services, "li", Role.MAINTAINER, day["tests"], person_id=person_id(services, "li", "tests")
    )
    with (
        client_as(services, "chen", Role.SUPERVISOR, day["tests"]) as chen,
        client_as(services, "root", Role.OPERATOR_ADMIN, None) as root,
        TestClient(chen.app) as li,
    ):
        log_in(li, "li")
        elm_asked = utilisation(chen, community_id=day["elm"])
        assert (elm_asked["facilities"], elm_asked["uses"], elm_asked["least_used"]) == (0, 0, [])
        own = utilisation(li)
        assert (own["facilities"], own["measured"], own["uses"]) == (5, 4, 460)
        everyone = utilisation(root, group_by="community")
        assert (everyone["community_id"], everyone["uses"]) == (None, 490)
        assert [(g["name"], g["uses"]) for g in everyone["groups"]] == [("Elm", 30), ("Tests", 460)]
        assert utilisation(root, community_id=day["elm"])["uses"] == 30

    with client_as(services, "zhang", Role.PROPERTY_MANAGER, day["tests"]) as zhang:
        for scopes, answer in ((["tickets:read"], 403), (["telemetry:read"], 200)):
            issued = zhang.post("/api/v1/auth/tokens", json={"name": "bms", "scopes": scopes})
            bearer = {"Authorization": f"Bearer {issued.json()['token']}"}
            with TestClient(zhang.app) as bms:
                assert bms.get(UTILISATION, headers=bearer).status_code == answer
