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

A module per export — :mod:`~cloud.api.exports.tickets`, :mod:`~cloud.api.exports.facilities`,
:mod:`~cloud.api.exports.figures`, :mod:`~cloud.api.exports.telemetry` — each a
:class:`Table` and the generator of its rows, all written by :mod:`~cloud.api.exports.table`.

Part of the API, a door: it may import the domain, ``cloud.queries`` and
``cloud.api.schemas``; never ``cloud.api.routers`` (whose exports router calls it),
``cloud.web``, ``cloud.app`` or ``cloud.cli`` (``tests/test_layering.py``).
"""

from cloud.api.exports.facilities import FACILITIES, facility_rows
from cloud.api.exports.figures import (
    FIGURES,
    REPAIR_FIGURES,
    UTILISATION,
    UTILISATION_FIGURES,
    figure_rows,
)
from cloud.api.exports.table import Format, Table, download, iso
from cloud.api.exports.telemetry import TELEMETRY, telemetry_rows
from cloud.api.exports.tickets import TICKETS, ticket_rows

__all__ = [
    "FACILITIES",
    "FIGURES",
    "REPAIR_FIGURES",
    "TELEMETRY",
    "TICKETS",
    "UTILISATION",
    "UTILISATION_FIGURES",
    "Format",
    "Table",
    "download",
    "facility_rows",
    "figure_rows",
    "iso",
    "telemetry_rows",
    "ticket_rows",
]
