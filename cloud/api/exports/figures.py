"""The figures exports: repair figures and utilisation, a row for the whole scope or per group."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from cloud.api.exports.table import Table, columns
from cloud.register.scope import Period
from cloud.repair import figures as repairs
from cloud.telemetry import utilisation

F = TypeVar("F")


_GROUP = columns(
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
    _GROUP + columns(*((name, kind, about) for name, (kind, about, _) in REPAIR_FIGURES.items())),
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
    + columns(*((name, kind, about) for name, (kind, about, _) in UTILISATION_FIGURES.items())),
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
