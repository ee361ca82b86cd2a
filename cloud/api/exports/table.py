"""A table of an export: its columns, its rows written as CSV or JSON a few at a time,
and the download response (see :mod:`cloud.api.exports`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from fastapi.responses import StreamingResponse

from cloud.api.schemas import Problem

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


def columns(*specs: tuple[str, str | tuple[str, ...], str] | Column) -> tuple[Column, ...]:
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
