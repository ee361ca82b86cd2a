"""A site file applied to the register, and the register written back as one.

:func:`apply_site` makes the register say what the file says, in one transaction: the
community, its calendars, SLA classes, zones, gateways (provisioned for it), facilities with
their devices, and people. Applying the same file again changes nothing; applying an edited
one updates what changed. It adds and updates; what the file no longer names is left as it
is (archiving goes through the API). A device bound to a facility before it is first heard
from joins that facility when it is; one already heard from moves there now.
:func:`~cloud.register.site_export.export_site` writes the register back as a site file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.db.models import (
    BusinessCalendar,
    Community,
    Device,
    DeviceBinding,
    Facility,
    Gateway,
    GroupingRule,
    NewDevices,
    Person,
    PersonZone,
    PreventivePlan,
    SlaClass,
    Zone,
)
from cloud.register.binding import bind_device
from cloud.register.gateways import provision_gateway
from cloud.repair.desk import TicketDesk
from device_profiles import site as fmt

T = TypeVar("T")


@dataclass
class ApplyResult:
    community_id: int
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    moved_devices: int = 0

    def summary(self) -> str:
        kinds = sorted(set(self.created) | set(self.updated))
        parts = [
            f"{kind}: {self.created[kind]} new, {self.updated[kind]} changed" for kind in kinds
        ]
        moved = f"; {self.moved_devices} device(s) moved" if self.moved_devices else ""
        return "; ".join(parts) + moved


def _set(row: Any, values: dict[str, Any]) -> bool:
    """Set ``values`` on ``row``; whether anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


class _Applier:
    def __init__(
        self,
        session: Session,
        community: Community,
        result: ApplyResult,
        tickets: TicketDesk,
        actor: str,
        now: datetime,
    ) -> None:
        self.session = session
        self.community = community
        self.result = result
        self.tickets = tickets
        self.actor = actor
        self.now = now
        self.made: set[int] = set()

    def upsert(self, model: type[T], kind: str, slug: str, values: dict[str, Any]) -> T:
        """The community's row of ``model`` with ``slug``, made or updated to ``values``
        (and remembered in :attr:`made` if it was made now)."""
        row = self.session.scalar(
            select(model).where(
                model.community_id == self.community.id,  # type: ignore[attr-defined]
                model.slug == slug,  # type: ignore[attr-defined]
            )
        )
        if row is None:
            row = model(community_id=self.community.id, slug=slug, **values)  # type: ignore[call-arg]
            self.session.add(row)
            self.session.flush()
            self.result.created[kind] += 1
            self.made.add(id(row))
        elif _set(row, values):
            self.result.updated[kind] += 1
        return row


def channels_of(person: fmt.Person) -> dict[str, Any]:
    """The person's ``channels`` as stored, if the site file names them."""
    if person.channels is None:
        return {}
    return {"channels": person.channels.model_dump(mode="json")}


def apply_site(
    session: Session,
    site: fmt.Site,
    now: datetime,
    tickets: TicketDesk,
    *,
    actor: str = "site file",
) -> ApplyResult:
    """Make the register say what ``site`` says (in the caller's transaction). A device
    bound that was heard from joins its facility now (:func:`bind_device`, by ``actor``)."""
    spec = site.community
    community = session.scalar(select(Community).where(Community.slug == spec.id))
    values = {"name": spec.name, "time_zone": spec.time_zone, "address": spec.address}
    created = community is None
    if community is None:
        community = Community(slug=spec.id, created_at=now, **values)
        session.add(community)
        session.flush()
    result = ApplyResult(community.id)
    if created:
        result.created["community"] += 1
    elif _set(community, {**values, "archived_at": None}):
        result.updated["community"] += 1
    applier = _Applier(session, community, result, tickets, actor, now)
    calendars = {
        slug: applier.upsert(
            BusinessCalendar,
            "calendars",
            slug,
            {"hours": dict(c.hours), "holidays": [d.isoformat() for d in c.holidays]},
        )
        for slug, c in site.calendars.items()
    }
    for slug, sla in site.sla.items():
        calendar = calendars[sla.calendar].id if sla.calendar else None
        applier.upsert(
            SlaClass,
            "sla",
            slug,
            {
                "acknowledge_s": sla.acknowledge_within,
                "resolve_s": sla.resolve_within,
                "calendar_id": calendar,
                "by_priority": {
                    priority: {
                        "acknowledge_s": targets.acknowledge_within,
                        "resolve_s": targets.resolve_within,
                    }
                    for priority, targets in sorted(sla.priorities.items())
                },
                "reopen_s": sla.reopen_within,
            },
        )
    zones = {
        slug: applier.upsert(Zone, "zones", slug, {"name": z.name, "kind": z.kind})
        for slug, z in site.zones.items()
    }
    zone_id = {slug: zone.id for slug, zone in zones.items()}
    _gateways(session, community, site, zone_id, now, result)
    _facilities(session, applier, site, zone_id, now, result)
    for slug, person in site.people.items():
        row = applier.upsert(
            Person,
            "people",
            slug,
            {
                "name": person.name,
                "role": person.role.value,
                "email": person.email,
                "phone": person.phone,
                "skills": list(person.skills),
                "duty_calendar_id": calendars[person.duty].id if person.duty else None,
                "archived_at": None,
                # not named: as they set it themselves (through the API)
                **channels_of(person),
            },
        )
        wanted = {zone_id[z] for z in person.zones}
        have = set(
            session.scalars(select(PersonZone.zone_id).where(PersonZone.person_id == row.id))
        )
        if wanted != have:
            session.execute(delete(PersonZone).where(PersonZone.person_id == row.id))
            session.add_all(PersonZone(person_id=row.id, zone_id=z) for z in sorted(wanted))
            if id(row) not in applier.made:
                result.updated["people"] += 1
    for slug, plan in site.preventive.items():
        kept = session.scalar(
            select(PreventivePlan.since).where(
                PreventivePlan.community_id == community.id, PreventivePlan.slug == slug
            )
        )
        applier.upsert(
            PreventivePlan,
            "preventive",
            slug,
            {
                "title": plan.title,
                "category": plan.category,
                "every_s": plan.every,
                "skill": plan.skill,
                "sla": plan.sla,
                "priority": plan.priority,
                "since": kept or now,
            },
        )
    _grouping(applier, site)
    session.flush()
    return result


def _grouping(applier: _Applier, site: fmt.Site) -> None:
    """The site's grouping rules (those it no longer names go) and its gateway_offline."""
    session, community = applier.session, applier.community
    zones = {
        z.slug: z.id for z in session.scalars(select(Zone).where(Zone.community_id == community.id))
    }
    for slug, rule in site.grouping.items():
        applier.upsert(
            GroupingRule,
            "grouping",
            slug,
            {
                "title": rule.title,
                "category": rule.category,
                "zone_id": zones[rule.zone] if rule.zone is not None else None,
                "faults": list(rule.faults),
                "at_least": rule.at_least,
                "within_s": rule.within,
                "skill": rule.skill,
                "sla": rule.sla,
                "priority": rule.priority,
            },
        )
    gone = session.execute(
        delete(GroupingRule).where(
            GroupingRule.community_id == community.id,
            GroupingRule.slug.not_in(sorted(site.grouping)),
        )
    )
    if gone.rowcount:  # type: ignore[attr-defined]
        applier.result.updated["grouping"] += gone.rowcount  # type: ignore[attr-defined]
    offline = site.gateway_offline
    _set(
        community,
        {
            "gateway_offline": {
                "after_s": offline.after,
                "skill": offline.skill,
                "sla": offline.sla,
                "priority": offline.priority,
                "verify_s": offline.verify_for,
            }
        },
    )
    applier.tickets.zones.forget()


def _gateways(
    session: Session,
    community: Community,
    site: fmt.Site,
    zone_id: dict[str, int],
    now: datetime,
    result: ApplyResult,
) -> None:
    known = set(session.scalars(select(Gateway.id).where(Gateway.id.in_(list(site.gateways)))))
    for gateway_id, spec in site.gateways.items():
        _, changed = provision_gateway(
            session,
            gateway_id,
            community.id,
            name=spec.name,
            zone_id=zone_id[spec.zone] if spec.zone else None,
            new_devices=NewDevices(spec.new_devices),
            now=now,
            revive=False,
        )
        if gateway_id not in known:
            result.created["gateways"] += 1
        elif changed:
            result.updated["gateways"] += 1


def _facilities(
    session: Session,
    applier: _Applier,
    site: fmt.Site,
    zone_id: dict[str, int],
    now: datetime,
    result: ApplyResult,
) -> None:
    community = applier.community
    for code, spec in site.facilities.items():
        values = {
            "name": spec.name,
            "category": spec.category,
            "zone_id": zone_id[spec.zone] if spec.zone else None,
        }
        facility = session.scalar(
            select(Facility).where(
                Facility.community_id == community.id,
                Facility.code == code,
                Facility.gateway_id.is_(None),
            )
        )
        if facility is None:
            facility = Facility(
                community_id=community.id,
                gateway_id=None,
                code=code,
                health="ok",
                health_since=now,
                **values,
            )
            session.add(facility)
            session.flush()
            result.created["facilities"] += 1
        elif _set(facility, values):
            result.updated["facilities"] += 1
        for ref in spec.devices:
            _bind(session, facility, ref.gateway, ref.device, applier)


def _bind(
    session: Session,
    facility: Facility,
    gateway_id: str,
    device_id: str,
    context: _Applier,
) -> None:
    binding = session.get(DeviceBinding, (gateway_id, device_id))
    result = context.result
    if binding is None:
        session.add(
            DeviceBinding(gateway_id=gateway_id, device_id=device_id, facility_id=facility.id)
        )
        result.created["bindings"] += 1
    elif binding.facility_id != facility.id:
        binding.facility_id = facility.id
        result.updated["bindings"] += 1
    session.flush()
    device = session.scalar(
        select(Device).where(Device.gateway_id == gateway_id, Device.device_id == device_id)
    )
    if device is None:
        return
    moved = bind_device(
        session, device, facility, context.tickets, actor=context.actor, now=context.now
    )
    if moved is not None:
        result.moved_devices += 1
