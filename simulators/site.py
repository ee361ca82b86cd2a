"""The simulated community as a site file, so that the cloud's register and the simulator
agree on what exists: ``linli sim site`` prints it, ``linli demo`` applies it at start.

Its zones are the simulator's (the north and south side), and the community's buildings hold
its lifts and smoke detectors; every simulated device is a facility of its own, named as
people name it ("Lift 1 of building 2", "Street light A-07"); the gateway is the demo's; a
property manager, a supervisor and maintainers with the skills the profiles' tickets ask for
work there (two on call around the clock, one on office hours), with two SLA classes: urgent
(an urgent ticket, a trapped lift, answered within 5 minutes day and night) and standard
(72 business hours to resolve); lifts are serviced monthly and fire hydrants checked
quarterly by the calendar.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from device_profiles.site import SITE_SCHEMA, Site
from simulators.community import Community

ZONE_NAMES = {"zone-a": "North side", "zone-b": "South side"}
IN_BUILDINGS = {"liftsafe_elevator": "Lift", "guardian_smoke_detector": "Smoke detector"}
"""Devices that live in buildings, and what people call them there."""
BUILDINGS = 4
PEOPLE: dict[str, dict[str, Any]] = {
    "zhang.min": {"name": "Zhang Min", "role": "property_manager"},
    "chen.jie": {"name": "Chen Jie", "role": "supervisor"},
    "wang.lei": {
        "name": "Wang Lei",
        "role": "maintainer",
        "skills": ["electrical", "access-control", "security", "ev-charging"],
        "zones": ["zone-a", "zone-b"],
    },
    "liu.yang": {
        "name": "Liu Yang",
        "role": "maintainer",
        "skills": ["elevator", "fire-safety"],
        "zones": [f"building-{n}" for n in range(1, BUILDINGS + 1)],
    },
    "zhao.hui": {
        "name": "Zhao Hui",
        "role": "maintainer",
        "skills": ["plumbing", "civil", "sanitation", "environment", "general-repair"],
        "zones": ["zone-a", "zone-b"],
        "duty": "office",
    },
}


class NewDevices(StrEnum):
    """What a device no facility lists becomes when first heard from (the site format's
    ``gateways.*.new_devices``)."""

    UNASSIGNED = "unassigned"
    OWN_FACILITY = "own-facility"


def community_site(
    community: Community,
    gateway_id: str,
    zones: Sequence[str],
    new_devices: NewDevices = NewDevices.UNASSIGNED,
) -> Site:
    """The site file of a simulated community behind ``gateway_id``; a device the simulator
    does not run becomes what ``new_devices`` says when first heard from."""
    zone_entries: dict[str, dict[str, Any]] = {
        zone: {"name": ZONE_NAMES.get(zone, zone.replace("-", " ").capitalize())} for zone in zones
    }
    for number in range(1, BUILDINGS + 1):
        zone_entries[f"building-{number}"] = {"name": f"Building {number}", "kind": "building"}
    facilities: dict[str, dict[str, Any]] = {}
    counted: dict[str, int] = {}
    for device in community:
        profile = device.profile
        what = IN_BUILDINGS.get(profile.id)
        zone: str | None
        if what is not None:
            n = counted[profile.id] = counted.get(profile.id, 0) + 1
            building = (n - 1) % BUILDINGS + 1
            in_building = (n - 1) // BUILDINGS + 1
            name = f"{what} {in_building} of building {building}"
            zone = f"building-{building}"
        else:
            name = f"{profile.name} {device.device_id.split('-', 1)[-1].upper()}"
            zone = device.zone if device.zone in zone_entries else None
        facilities[device.device_id.lower()] = {
            "name": name,
            "zone": zone,
            "category": profile.category,
            "devices": [{"gateway": gateway_id, "device": device.device_id}],
        }
    people = {
        slug: {**person, "zones": [z for z in person.get("zones", []) if z in zone_entries]}
        for slug, person in PEOPLE.items()
    }
    return Site.model_validate(
        {
            "schema": SITE_SCHEMA,
            "community": {
                "id": "demo",
                "name": "Linli demo community",
                "time_zone": "Asia/Shanghai",
            },
            "calendars": {
                "office": {
                    "hours": {day: "08:30-17:30" for day in ("mon", "tue", "wed", "thu", "fri")}
                }
            },
            "sla": {
                "urgent": {
                    "acknowledge_within": "15m",
                    "resolve_within": "4h",
                    "priorities": {"urgent": {"acknowledge_within": "5m", "resolve_within": "1h"}},
                },
                "standard": {
                    "acknowledge_within": "4h",
                    "resolve_within": "72h",
                    "calendar": "office",
                },
            },
            "zones": zone_entries,
            "gateways": {
                gateway_id: {"name": "The demo's gateway", "new_devices": new_devices.value}
            },
            "facilities": facilities,
            "people": people,
            "preventive": {
                "lift-service": {
                    "title": "Monthly lift service",
                    "category": "vertical_transport",
                    "every": "30d",
                    "skill": "elevator",
                },
                "hydrant-check": {
                    "title": "Quarterly fire hydrant check",
                    "category": "fire_safety",
                    "every": "90d",
                    "skill": "fire-safety",
                },
            },
            "grouping": {
                "lights-out": {
                    "title": "Street lights out in the zone (power supply?)",
                    "category": "lighting",
                    "faults": ["offline", "lamp_failure", "lamp_out"],
                    "at_least": 3,
                    "within": "5m",
                    "skill": "electrical",
                },
            },
            "gateway_offline": {"after": "2m", "skill": "electrical"},
        }
    )
