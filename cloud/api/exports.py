"""Exports for other parties: rows of named columns, written as CSV or as JSON, a few rows at
a time.

A :class:`Table` names its columns (their JSON types, for the OpenAPI document); its rows are
mappings of column name to value, made by a generator so that a large export is never held
whole in memory. :func:`download` writes them as

- **CSV**: UTF-8, a header row of the column names, RFC 4180 quoting (the stdlib's ``csv``,
  CRLF line ends); null is an empty cell, booleans ``true``/``false``, times ISO 8601 in UTC
  (``2025-11-27T08:00:00Z``), numbers as JSON writes them;
- **JSON**: an array of objects with the same fields, the same values (null as null);

as an attachment (``Content-Disposition``) named after the export and the day.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from fastapi.responses import StreamingResponse
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, sessionmaker

from cloud import queries
from cloud.api.schemas import Problem
from cloud.db.models import Community, Facility, Gateway, Person, Ticket, Zone
from cloud.queries import _subject_name
from cloud.register.scope import Period
from cloud.repair import figures as repairs
from cloud.repair.tickets import LIVE
from cloud.telemetry import utilisation
from cloud.telemetry.charts import Series

F = TypeVar("F")

FLUSH_ROWS = 200
"""Rows written into one chunk of the answer."""


class Format(StrEnum):
    CSV = "csv"
    JSON = "json"


MEDIA_TYPES = {Format.CSV: "text/csv; charset=utf-8", Format.JSON: "application/json"}
BOM = "\ufeff"


@dataclass(frozen=True)
class Column:
    name: str
    type: str | tuple[str, ...]
    """JSON Schema type(s): integer, number, string, boolean"""
    description: str
    nullable: bool = False
    time: bool = False
    """an ISO 8601 time in UTC"""

    def schema(self) -> dict[str, Any]:
        types = [self.type] if isinstance(self.type, str) else list(self.type)
        if self.nullable:
            types.append("null")
        found: dict[str, Any] = {
            "type": types[0] if len(types) == 1 else types,
            "description": self.description,
        }
        if self.time:
            found["format"] = "date-time"
        return found


@dataclass(frozen=True)
class Table:
    """An export's columns."""

    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def item_schema(self) -> dict[str, Any]:
        """The JSON Schema of a row as the JSON export gives it."""
        return {
            "type": "object",
            "properties": {column.name: column.schema() for column in self.columns},
            "required": self.names,
        }

    def responses(self, *problems: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
        """The ``responses`` of an export of this table: CSV or JSON, and ``problems``."""
        return {
            200: {
                "description": f"the {self.name} as an attachment: CSV with a header row, or "
                "JSON, an array of objects with the same fields",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "array", "items": self.item_schema()}},
                },
                "headers": {
                    "Content-Disposition": {
                        "description": "attachment; filename=linli-<export>-<day>.<format>",
                        "schema": {"type": "string"},
                    }
                },
            },
            **{
                status: {"model": Problem, "description": description}
                for status, description in problems
            },
        }


def iso(moment: datetime) -> str:
    """``moment`` in ISO 8601, in UTC (``Z``); a time without an offset is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_value(value: object) -> object:
    """A cell as the JSON export writes it."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value


def csv_cell(value: object) -> str:
    """A cell as the CSV export writes it: what JSON says, unquoted; null empty."""
    value = json_value(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def csv_chunks(table: Table, rows: Iterable[Mapping[str, object]], bom: bool) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # RFC 4180: quotes where needed, doubled inside, CRLF ends
    if bom:
        buffer.write(BOM)
    writer.writerow(table.names)
    for n, row in enumerate(rows, 1):
        writer.writerow([csv_cell(row.get(name)) for name in table.names])
        if n % FLUSH_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def json_chunks(table: Table, rows: Iterable[Mapping[str, object]]) -> Iterator[bytes]:
    parts = ["["]
    for n, row in enumerate(rows):
        item = {name: json_value(row.get(name)) for name in table.names}
        parts.append(("," if n else "") + "\n" + json.dumps(item, ensure_ascii=False))
        if len(parts) >= FLUSH_ROWS:
            yield "".join(parts).encode()
            parts = []
    parts.append("\n]\n")
    yield "".join(parts).encode()


def download(
    table: Table,
    rows: Iterable[Mapping[str, object]],
    fmt: Format,
    day: date,
    *,
    bom: bool = False,
) -> StreamingResponse:
    """``rows`` of ``table`` as an attachment in ``fmt``, written as they come."""
    chunks = csv_chunks(table, rows, bom) if fmt is Format.CSV else json_chunks(table, rows)
    filename = f"linli-{table.name}-{day.isoformat()}.{fmt.value}"
    return StreamingResponse(
        chunks,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _columns(*specs: tuple[str, str | tuple[str, ...], str] | Column) -> tuple[Column, ...]:
    """Columns from ``(name, type, description)``: a type ending in ``?`` is nullable, type
    ``time`` an ISO 8601 time (nullable as ``time?``)."""
    found = []
    for spec in specs:
        if isinstance(spec, Column):
            found.append(spec)
            continue
        name, kind, description = spec
        nullable = isinstance(kind, str) and kind.endswith("?")
        kind = kind.rstrip("?") if isinstance(kind, str) else kind
        time = kind == "time"
        found.append(Column(name, "string" if time else kind, description, nullable, time))
    return tuple(found)


# -- tickets -----------------------------------------------------------------------------------

TICKETS = Table(
    "tickets",
    _columns(
        ("id", "integer", "the ticket's id"),
        ("community_id", "integer?", "its community"),
        ("community", "string?", "its community's name"),
        (
            "scope",
            "string",
            "what failed: facility, zone (facilities that failed together), gateway (gone offline)",
        ),
        ("name", "string", "the name of what failed"),
        ("facility_id", "integer?", "the facility (null for a zone's or a gateway's ticket)"),
        ("facility", "string?", "the facility's name"),
        ("zone_id", "integer?", "the zone"),
        ("zone", "string?", "the zone's name"),
        ("gateway_id", "string?", "the gateway of a gateway's ticket"),
        (
            "fault",
            "string",
            "the fault (`reported` for one opened by hand for what no device reports)",
        ),
        ("title", "string", "the ticket's title"),
        ("priority", "string", "urgent, high, normal or low"),
        ("state", "string", "its state now"),
        ("opened_at", "time", "when the fault started (or it was opened by hand)"),
        ("assigned_at", "time?", "last assigned"),
        ("acknowledged_at", "time?", "acknowledged"),
        ("started_at", "time?", "work started"),
        ("resolved_at", "time?", "resolved by the maintainer"),
        ("closed_at", "time?", "closed (verified by the data, or confirmed)"),
        ("cancelled_at", "time?", "cancelled"),
        ("respond_by", "time?", "the response deadline"),
        ("resolve_by", "time?", "the resolution deadline"),
        ("respond_breached", "boolean", "the response deadline was missed"),
        ("resolve_breached", "boolean", "the resolution deadline was missed"),
        ("respond_breached_at", "time?", "when the response deadline was found missed"),
        ("resolve_breached_at", "time?", "when the resolution deadline was found missed"),
        ("assignee_id", "integer?", "the person it is assigned to"),
        ("assignee", "string?", "their name"),
        ("repeats", "integer", "how often the fault came back after a repair"),
    ),
)


def ticket_rows(
    sessions: sessionmaker[Session],
    period: Period,
    *,
    community: int | None,
    zones: frozenset[int] | None,
    mine: int | None,
    community_id: int | None = None,
    zone_id: int | None = None,
) -> Iterator[dict[str, object]]:
    """The tickets whose life touches ``period`` (opened before its end, and not closed or
    cancelled before its start), oldest first: of ``community`` (None: every one) and, if
    given, of ``community_id``; for a maintainer (``zones``), those of their zones and those
    assigned to them (``mine``); of zone ``zone_id``."""
    where: list[ColumnElement[bool]] = [
        Ticket.opened_at < period.end,
        or_(
            Ticket.state.in_(LIVE),
            Ticket.closed_at >= period.start,
            Ticket.cancelled_at >= period.start,
        ),
    ]
    if zones is not None:  # a maintainer's
        in_zones = Ticket.zone_id.in_(sorted(zones))
        where.append(or_(in_zones, Ticket.assignee_id == mine) if mine is not None else in_zones)
    for wanted in {community, community_id} - {None}:
        where.append(Ticket.community_id == wanted)
    if zone_id is not None:
        where.append(Ticket.zone_id == zone_id)
    query = (
        select(Ticket, Facility.name, Zone.name, Gateway.name, Person.name, Community.name)
        .outerjoin(Facility, Facility.id == Ticket.facility_id)
        .outerjoin(Zone, Zone.id == Ticket.zone_id)
        .outerjoin(Gateway, Gateway.id == Ticket.gateway_id)
        .outerjoin(Person, Person.id == Ticket.assignee_id)
        .outerjoin(Community, Community.id == Ticket.community_id)
        .where(*where)
        .order_by(Ticket.opened_at, Ticket.id)
        .execution_options(yield_per=FLUSH_ROWS)
    )
    with sessions() as session:
        for ticket, facility, zone, gateway, assignee, community_name in session.execute(query):
            yield {
                "id": ticket.id,
                "community_id": ticket.community_id,
                "community": community_name,
                "scope": ticket.scope,
                "name": _subject_name(ticket, facility, zone, gateway),
                "facility_id": ticket.facility_id,
                "facility": facility,
                "zone_id": ticket.zone_id,
                "zone": zone,
                "gateway_id": ticket.gateway_id,
                "fault": ticket.fault,
                "title": ticket.title,
                "priority": ticket.priority,
                "state": ticket.state,
                "opened_at": ticket.opened_at,
                "assigned_at": ticket.assigned_at,
                "acknowledged_at": ticket.acknowledged_at,
                "started_at": ticket.started_at,
                "resolved_at": ticket.resolved_at,
                "closed_at": ticket.closed_at,
                "cancelled_at": ticket.cancelled_at,
                "respond_by": ticket.respond_by,
                "resolve_by": ticket.resolve_by,
                "respond_breached": ticket.respond_breached_at is not None,
                "resolve_breached": ticket.resolve_breached_at is not None,
                "respond_breached_at": ticket.respond_breached_at,
                "resolve_breached_at": ticket.resolve_breached_at,
                "assignee_id": ticket.assignee_id,
                "assignee": assignee,
                "repeats": ticket.repeats,
            }


# -- facilities --------------------------------------------------------------------------------

FACILITIES = Table(
    "facilities",
    _columns(
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


# -- figures -----------------------------------------------------------------------------------

_GROUP = _columns(
    (
        "group_by",
        "string?",
        "what the rows are groups of: zone, category, facility, "
        "community; null: one row of the whole scope",
    ),
    ("key", "string", "the group's key (an id, `none`, a category); `all` for the whole"),
    ("name", "string", "the group's name"),
    ("community_id", "integer?", "the community asked for, else yours (null: every one)"),
    ("from", "time", "the period's start"),
    ("to", "time", "the period's end, not included"),
)

REPAIR_FIGURES: dict[
    str, tuple[str | tuple[str, ...], str, Callable[[repairs.Figures], object]]
] = {
    "facilities": ("integer", "facilities in use in the period", lambda f: f.facilities),
    "tickets": ("integer", "tickets opened in the period", lambda f: f.tickets),
    "cancelled": ("integer", "repair cycles cancelled in the period", lambda f: f.cancelled),
    "repairs": ("integer", "repairs closed in the period", lambda f: f.mttr.repairs),
    "repairs_verified": ("integer", "of those, verified by the data", lambda f: f.mttr.verified),
    "repairs_confirmed": (
        "integer",
        "of those, confirmed by a supervisor",
        lambda f: f.mttr.confirmed,
    ),
    "mttr_s": ("number?", "mean time to repair, seconds", lambda f: f.mttr.mttr_s),
    "mttr_verified_s": (
        "number?",
        "the same over data-verified repairs",
        lambda f: f.mttr.mttr_verified_s,
    ),
    "failures": ("integer", "fault starts in the period", lambda f: f.mtbf.failures),
    "facilities_failed": ("integer", "facilities that failed", lambda f: f.mtbf.facilities_failed),
    "facilities_without_failure": (
        "integer",
        "facilities that did not",
        lambda f: f.mtbf.facilities_without_failure,
    ),
    "mtbf_intervals": ("integer", "times between failures measured", lambda f: f.mtbf.intervals),
    "mtbf_s": ("number?", "mean time between failures, seconds", lambda f: f.mtbf.mtbf_s),
    "mtbf_status": ("string", "measured, no_failure or no_interval", lambda f: f.mtbf.status),
    "sla_tickets": (
        "integer",
        "tickets with a target that counts in the period",
        lambda f: f.sla.tickets,
    ),
    "sla_met": ("integer", "of those, meeting every target", lambda f: f.sla.met),
    "sla_compliance": ("number?", "sla_met / sla_tickets", lambda f: f.sla.compliance),
    "respond_due": ("integer", "response targets counted", lambda f: f.sla.respond.due),
    "respond_met": ("integer", "response targets met", lambda f: f.sla.respond.met),
    "respond_compliance": (
        "number?",
        "respond_met / respond_due",
        lambda f: f.sla.respond.compliance,
    ),
    "resolve_due": ("integer", "resolution targets counted", lambda f: f.sla.resolve.due),
    "resolve_met": ("integer", "resolution targets met", lambda f: f.sla.resolve.met),
    "resolve_compliance": (
        "number?",
        "resolve_met / resolve_due",
        lambda f: f.sla.resolve.compliance,
    ),
    "repeat_tickets": (
        "integer",
        "tickets whose fault came back in the period",
        lambda f: f.repeats.tickets,
    ),
    "repeats": ("integer", "times a fault came back in the period", lambda f: f.repeats.repeats),
}

FIGURES = Table(
    "figures",
    _GROUP + _columns(*((name, kind, about) for name, (kind, about, _) in REPAIR_FIGURES.items())),
)

UTILISATION_FIGURES: dict[
    str, tuple[str | tuple[str, ...], str, Callable[[utilisation.Figures], object]]
] = {
    "facilities": ("integer", "facilities in use in the period", lambda f: f.facilities),
    "measured": ("integer", "those whose devices measure use", lambda f: f.measured),
    "idle": ("integer", "measured facilities not used", lambda f: f.idle),
    "silent": ("integer", "measured facilities whose devices sent nothing", lambda f: f.silent),
    "uses": ("integer", "uses their counters counted", lambda f: f.uses),
    "in_use_s": ("number", "seconds their states meant in use", lambda f: f.in_use_s),
}

UTILISATION = Table(
    "utilisation",
    _GROUP
    + _columns(*((name, kind, about) for name, (kind, about, _) in UTILISATION_FIGURES.items())),
)


def figure_rows(
    whole: F,
    groups: Sequence[tuple[str, str, F]],
    described: Mapping[str, tuple[object, str, Callable[[F], object]]],
    *,
    group_by: str | None,
    community_id: int | None,
    period: Period,
) -> list[dict[str, object]]:
    """One row of the whole scope's figures, or one per group when grouped."""
    found = [("all", "all", whole)] if group_by is None else groups
    return [
        {
            "group_by": group_by,
            "key": key,
            "name": name,
            "community_id": community_id,
            "from": period.start,
            "to": period.end,
            **{column: read(figures) for column, (_, _, read) in described.items()},
        }
        for key, name, figures in found
    ]


# -- telemetry ---------------------------------------------------------------------------------

VALUE = ("string", "number", "boolean")

TELEMETRY = Table(
    "telemetry",
    _columns(
        ("device_pk", "integer", "the device"),
        ("device_id", "string", "its id at its gateway"),
        ("metric", "string", "the metric"),
        ("unit", "string?", "its unit"),
        ("resolution", "string", "raw readings, or buckets of 1m or 1h roll-ups"),
        ("step", "integer?", "the buckets' width, seconds (null for raw readings)"),
        ("t", "time", "the reading's time, or the bucket's start"),
        Column("value", VALUE, "a raw reading's value", nullable=True),
        ("count", "integer?", "readings in the bucket"),
        ("min", "number?", "a number's least in the bucket"),
        ("max", "number?", "a number's greatest"),
        ("mean", "number?", "a number's mean"),
        ("share", "number?", "of a true/false state, the time-weighted share of true"),
        ("covered_s", "number?", "seconds of the bucket the data covers"),
        Column("last", VALUE, "the bucket's last value", nullable=True),
    ),
)


def telemetry_rows(
    series: Series,
    *,
    device_pk: int,
    device_id: str,
    metric: str,
    unit: str | None,
    resolution: str,
    boolean: bool,
) -> Iterator[dict[str, object]]:
    """A series' raw readings or buckets, in time order."""
    own = {
        "device_pk": device_pk,
        "device_id": device_id,
        "metric": metric,
        "unit": unit,
        "resolution": resolution,
        "step": series.step,
    }
    for t, value in series.readings:
        yield {**own, "t": t, "value": value}
    for bucket in series.buckets:
        yield {
            **own,
            "t": bucket.start,
            "count": bucket.count,
            "min": bucket.min,
            "max": bucket.max,
            "mean": bucket.mean,
            "share": (bucket.shares or {}).get("true", 0.0)
            if boolean and bucket.shares is not None
            else None,
            "covered_s": bucket.covered,
            "last": bucket.last,
        }
