"""The register written back as a site file: :func:`export_site` gives a community as a
:class:`~device_profiles.site.Site`, which :func:`~cloud.register.sites.apply_site` applied to
the same register changes nothing (``linli site export``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db.models import (
    BusinessCalendar,
    Community,
    DeviceBinding,
    Facility,
    Gateway,
    GroupingRule,
    Person,
    PersonZone,
    PreventivePlan,
    SlaClass,
    Zone,
)
from device_profiles import site as fmt


def export_site(session: Session, slug: str) -> fmt.Site:
    """The community ``slug`` as a site file says it; LookupError if there is none."""
    community = session.scalar(select(Community).where(Community.slug == slug))
    if community is None:
        raise LookupError(f"no community {slug!r}")
    cid = community.id
    zones = {z.id: z for z in session.scalars(select(Zone).where(Zone.community_id == cid))}
    calendars = {
        c.id: c
        for c in session.scalars(
            select(BusinessCalendar).where(BusinessCalendar.community_id == cid)
        )
    }
    gateways = session.scalars(
        select(Gateway).where(Gateway.community_id == cid).order_by(Gateway.id)
    )
    facilities = session.scalars(
        select(Facility)
        .where(Facility.community_id == cid, Facility.gateway_id.is_(None))
        .order_by(Facility.code)
    ).all()
    bindings: dict[int, list[fmt.DeviceRef]] = {}
    if facilities:
        for binding in session.scalars(
            select(DeviceBinding)
            .where(DeviceBinding.facility_id.in_([f.id for f in facilities]))
            .order_by(DeviceBinding.gateway_id, DeviceBinding.device_id)
        ):
            bindings.setdefault(binding.facility_id, []).append(
                fmt.DeviceRef(gateway=binding.gateway_id, device=binding.device_id)
            )
    people = session.scalars(
        select(Person)
        .where(Person.community_id == cid, Person.archived_at.is_(None))
        .order_by(Person.slug)
    ).all()
    person_zones: dict[int, list[str]] = {}
    if people:
        for person_id, zone in session.execute(
            select(PersonZone.person_id, PersonZone.zone_id).where(
                PersonZone.person_id.in_([p.id for p in people])
            )
        ):
            person_zones.setdefault(person_id, []).append(zones[zone].slug)

    def zone_slug(zone: int | None) -> str | None:
        return zones[zone].slug if zone is not None else None

    return fmt.Site.model_validate(
        {
            "schema": fmt.SITE_SCHEMA,
            "community": {
                "id": community.slug,
                "name": community.name,
                "time_zone": community.time_zone,
                "address": community.address,
            },
            "calendars": {
                c.slug: {"hours": c.hours, "holidays": c.holidays}
                for c in sorted(calendars.values(), key=lambda c: c.slug)
            },
            "sla": {
                s.slug: {
                    "acknowledge_within": s.acknowledge_s,
                    "resolve_within": s.resolve_s,
                    "calendar": calendars[s.calendar_id].slug if s.calendar_id else None,
                    "priorities": {
                        priority: {
                            "acknowledge_within": targets["acknowledge_s"],
                            "resolve_within": targets["resolve_s"],
                        }
                        for priority, targets in s.by_priority.items()
                    },
                    "reopen_within": s.reopen_s,
                }
                for s in session.scalars(
                    select(SlaClass).where(SlaClass.community_id == cid).order_by(SlaClass.slug)
                )
            },
            "zones": {
                z.slug: {"name": z.name, "kind": z.kind}
                for z in sorted(zones.values(), key=lambda z: z.slug)
                if z.archived_at is None
            },
            "gateways": {
                g.id: {"name": g.name, "zone": zone_slug(g.zone_id), "new_devices": g.new_devices}
                for g in gateways
            },
            "facilities": {
                f.code: {
                    "name": f.name,
                    "zone": zone_slug(f.zone_id),
                    "category": f.category,
                    "devices": bindings.get(f.id, []),
                }
                for f in facilities
            },
            "people": {
                p.slug: {
                    "name": p.name,
                    "role": p.role,
                    "email": p.email,
                    "phone": p.phone,
                    "skills": p.skills,
                    "zones": sorted(person_zones.get(p.id, [])),
                    "duty": calendars[p.duty_calendar_id].slug if p.duty_calendar_id else None,
                    "channels": p.channels or None,
                }
                for p in people
            },
            "grouping": {
                rule.slug: {
                    "title": rule.title,
                    "category": rule.category,
                    "zone": zone_slug(rule.zone_id),
                    "faults": rule.faults,
                    "at_least": rule.at_least,
                    "within": rule.within_s,
                    "skill": rule.skill,
                    "sla": rule.sla,
                    "priority": rule.priority,
                }
                for rule in session.scalars(
                    select(GroupingRule)
                    .where(GroupingRule.community_id == cid)
                    .order_by(GroupingRule.slug)
                )
            },
            "gateway_offline": _offline_of(community.gateway_offline),
            "preventive": {
                plan.slug: {
                    "title": plan.title,
                    "category": plan.category,
                    "every": plan.every_s,
                    "skill": plan.skill,
                    "sla": plan.sla,
                    "priority": plan.priority,
                }
                for plan in session.scalars(
                    select(PreventivePlan)
                    .where(PreventivePlan.community_id == cid)
                    .order_by(PreventivePlan.slug)
                )
            },
        }
    )


def _offline_of(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The site file's ``gateway_offline`` from what the community row keeps."""
    names = {"after_s": "after", "verify_s": "verify_for"}
    return {names.get(k, k): v for k, v in (stored or {}).items()}
