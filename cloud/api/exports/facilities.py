"""The facility health export: a row per facility of the scope, as it is now."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud import queries
from cloud.api.exports.table import FLUSH_ROWS, Table, columns
from cloud.db.models import Community, Zone

FACILITIES = Table(
    "facilities",
    columns(
        ("id", "integer", "the facility's id"),
        ("community_id", "integer?", "its community"),
        ("community", "string?", "its community's name"),
        ("code", "string", "its code in the community"),
        ("name", "string", "its name"),
        ("category", "string", "access, lighting..."),
        ("zone_id", "integer?", "its zone"),
        ("zone", "string?", "the zone's name"),
        ("health", "string", "ok, degraded or faulty: what its devices said last"),
        (
            "status",
            "string",
            "its health, or unknown while the gateways of all its devices are offline",
        ),
        ("health_since", "time", "since when its health is what it is"),
        ("open_tickets", "integer", "its tickets not yet closed or cancelled"),
    ),
)


def facility_rows(
    sessions: sessionmaker[Session],
    *,
    community: int | None,
    zones: frozenset[int] | None,
    community_id: int | None = None,
    zone_id: int | None = None,
    category: str | None = None,
) -> Iterator[dict[str, object]]:
    """The facilities in use as the facilities API lists them (worst health first), a page
    at a time: of ``community`` (None: every one) and ``community_id``, of a maintainer's
    ``zones``, of zone ``zone_id``, of ``category``."""
    if community is not None and community_id not in (None, community):
        return
    with sessions() as session:
        zone_names = dict(session.execute(select(Zone.id, Zone.name)).tuples().all())
        community_names = dict(session.execute(select(Community.id, Community.name)).tuples().all())
        offset = 0
        while True:
            page, _ = queries.facilities(
                session,
                community=community if community is not None else community_id,
                zones=zones,
                zone_id=zone_id,
                category=category,
                limit=FLUSH_ROWS,
                offset=offset,
            )
            for found in page:
                yield {
                    "id": found.id,
                    "community_id": found.community_id,
                    "community": community_names.get(found.community_id)
                    if found.community_id is not None
                    else None,
                    "code": found.code,
                    "name": found.name,
                    "category": found.category,
                    "zone_id": found.zone_id,
                    "zone": zone_names.get(found.zone_id) if found.zone_id is not None else None,
                    "health": found.health,
                    "status": found.status,
                    "health_since": found.health_since,
                    "open_tickets": found.open_tickets,
                }
            if len(page) < FLUSH_ROWS:
                return
            offset += FLUSH_ROWS
