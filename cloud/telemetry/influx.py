"""The telemetry store in InfluxDB, through its v1 HTTP API only.

``POST /write`` (line protocol, ``precision=ns``) and ``/query`` (InfluxQL) are served by
InfluxDB 1.x, by 2.x (v1 compatibility) and by 3.x, so one client serves all three.

Data layout
-----------
Raw readings
    Measurement ``readings_<profile_id>``, tag ``device=<device_pk>``, one field per metric,
    at the reading's time in nanoseconds (UTC; a naive datetime is taken as UTC). Numbers are
    always written as floats (never with the ``i`` suffix), so an int and a float of one metric
    never conflict, and are read back as floats; booleans as ``true``/``false``; text as a
    quoted string. Numbers that are not finite are left out (line protocol has no NaN or
    infinity). A point written again is the same point, so writes are idempotent. Known limit:
    two readings of one device and profile with the same nanosecond timestamp are one point in
    InfluxDB (fields of the later write win).
Roll-ups
    Measurement ``rollup_<step>`` (``rollup_60``, ``rollup_3600``), tags ``device=<pk>`` and
    ``metric=<name>``, at the bucket's start. Fields: ``count`` and ``covered`` (floats),
    ``stats`` (boolean: whether ``min``/``max``/``mean`` were written), ``min``, ``max``,
    ``mean`` (floats, only when not None), ``shares`` and ``last`` (JSON text, ``null`` when
    None). Writing a roll-up again replaces it field by field, and a field left out of the new
    write keeps its old value; so every field that may be None is either always written
    (``shares``, ``last`` as JSON ``null``) or guarded by one that is (``stats``), and a stale
    ``min`` from an earlier write is never read back.

Failures raise with InfluxDB's reason: :class:`TelemetryRejected` when InfluxDB refused the
data or the query itself (HTTP 400, 413 or 422: a field type conflict, a partial write, a
malformed query; trying again will not help), :class:`TelemetryUnavailable` for everything
else (connection errors, timeouts, 5xx, a database not found, credentials refused), which
ingest treats as temporary: it holds the data and tries again.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, cast

import httpx

from cloud.telemetry.store import (
    RAW,
    RawPoint,
    Rollup,
    TelemetryRejected,
    TelemetryUnavailable,
    Value,
)

log = logging.getLogger(__name__)

READINGS_PREFIX = "readings_"
WRITE_CHUNK = 5000
"""Lines per write request."""
DEVICES_PER_QUERY = 200
QUERY_CHUNK = 10000
"""Rows per chunk of a streamed (``chunked=true``) query answer."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_UNSUPPORTED = ("not supported", "not implemented", "unsupported", "expected select")


_REJECTED = frozenset({400, 413, 422})
"""What InfluxDB answers when the data or the query itself is at fault."""


def _failure(what: str, reason: str, response: httpx.Response) -> Exception:
    if response.status_code in _REJECTED:
        return TelemetryRejected(f"{what}: {reason}")
    return TelemetryUnavailable(f"{what}: {reason}")


def _ns(ts: datetime) -> int:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return (ts - _EPOCH) // _US * 1000


def _from_ns(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _escape(text: str, specials: str) -> str:
    for char in specials:
        text = text.replace(char, "\\" + char)
    return text


def _measurement(name: str) -> str:
    return _escape(name, ", ")


def _key(name: str) -> str:
    """A tag key, tag value or field key."""
    return _escape(name, ",= ")


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field(value: Value) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        return repr(number) if math.isfinite(number) else None
    return _string(value)


def _ident(name: str) -> str:
    """An InfluxQL identifier."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(text: str) -> str:
    """An InfluxQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _between(start: datetime, end: datetime) -> str:
    return f"time >= {_ns(start)} AND time < {_ns(end)}"


def _number(value: Any) -> Value:
    """A field read back: numbers were written as floats (JSON shows 1.0 as 1)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return cast(Value, value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class InfluxTelemetry:
    """Raw readings and roll-ups in one InfluxDB database (1.x) or bucket (2.x, 3.x)."""

    name = "influxdb"
    raw_span_s = 6 * 3600.0
    """The longest span a raw series is served for: InfluxDB reads one device's series by
    its tag, whatever the other devices sent."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        client: httpx.Client | None = None,
        timeout_s: float = 10.0,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout_s)
        self._auth: httpx.BasicAuth | None = (
            httpx.BasicAuth(username, password or "") if username is not None else None
        )
        self._warned_delete = False

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._auth is not None:
            kwargs["auth"] = self._auth
        try:
            return self._client.request(method, f"{self.url}{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise TelemetryUnavailable(
                f"InfluxDB at {self.url} unreachable: {type(exc).__name__}: {exc}"
            ) from exc

    @staticmethod
    def _reason(response: httpx.Response) -> str:
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        reason = error or response.headers.get("X-Influxdb-Error") or response.text
        return f"HTTP {response.status_code}: {reason.strip() or response.reason_phrase}"

    def _write_lines(self, lines: list[str]) -> None:
        for first in range(0, len(lines), WRITE_CHUNK):
            body = "\n".join(lines[first : first + WRITE_CHUNK]).encode()
            response = self._request(
                "POST", "/write", params={"db": self.database, "precision": "ns"}, content=body
            )
            if response.status_code >= 300:
                raise _failure("InfluxDB refused a write", self._reason(response), response)

    def _query(self, q: str) -> list[dict[str, Any]]:
        """The series of a SELECT's answer, streamed in chunks (each with its own columns)."""
        params = {
            "db": self.database,
            "q": q,
            "epoch": "ns",
            "chunked": "true",
            "chunk_size": str(QUERY_CHUNK),
        }
        response = self._request("GET", "/query", params=params)
        if response.status_code >= 300:
            raise _failure("InfluxDB refused a query", self._reason(response), response)
        series: list[dict[str, Any]] = []
        for line in response.text.splitlines():
            if not line.strip():
                continue
            try:
                answer = json.loads(line)
            except ValueError as exc:
                raise TelemetryUnavailable(
                    f"InfluxDB answered a query with {line[:200]!r}"
                ) from exc
            for result in answer.get("results", [answer]):
                error = result.get("error")
                if error:
                    missing = "database not found" in str(error)  # created again at start
                    failure = TelemetryUnavailable if missing else TelemetryRejected
                    raise failure(f"InfluxDB query failed: {error}")
                series.extend(result.get("series", ()))
        return series

    def _command(self, q: str) -> tuple[httpx.Response, str | None]:
        """Run DDL or DELETE (POST /query); the answer and the error in it, if any."""
        response = self._request("POST", "/query", params={"db": self.database}, data={"q": q})
        if response.status_code >= 300:
            return response, self._reason(response)
        try:
            results = response.json().get("results", [])
        except ValueError:
            return response, f"HTTP {response.status_code}: {response.text[:200]}"
        errors = [r["error"] for r in results if r.get("error")]
        return response, ("; ".join(errors) if errors else None)

    # -- lifecycle --------------------------------------------------------------------------

    def create_database(self) -> None:
        """Create the database if it does not exist (InfluxDB 1.x; idempotent)."""
        _, error = self._command(f"CREATE DATABASE {_ident(self.database)}")
        if error is not None:
            raise TelemetryUnavailable(f"InfluxDB could not create {self.database!r}: {error}")

    def close(self) -> None:
        """Close the HTTP client, unless it was passed in."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> InfluxTelemetry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- raw readings -----------------------------------------------------------------------

    def write_readings(self, points: Sequence[RawPoint]) -> None:
        lines = []
        for point in points:
            fields = [
                f"{_key(metric)}={text}"
                for metric, value in point.metrics.items()
                if (text := _field(value)) is not None
            ]
            if fields:
                lines.append(
                    f"{_measurement(READINGS_PREFIX + point.profile_id)},"
                    f"device={point.device_pk} {','.join(fields)} {_ns(point.ts)}"
                )
        self._write_lines(lines)

    def readings_between(self, start: datetime, end: datetime) -> list[RawPoint]:
        q = f"SELECT * FROM /^{READINGS_PREFIX}/ WHERE {_between(start, end)} GROUP BY device"
        rows: list[tuple[int, int, str, dict[str, Value]]] = []
        for series in self._query(q):
            profile_id = series["name"].removeprefix(READINGS_PREFIX)
            device_pk = int(series["tags"]["device"])
            columns = series["columns"]
            for values in series.get("values", ()):
                metrics = {
                    column: _number(value)
                    for column, value in zip(columns[1:], values[1:], strict=True)
                    if value is not None
                }
                if metrics:
                    rows.append((values[0], device_pk, profile_id, metrics))
        rows.sort(key=lambda row: row[:3])
        return [RawPoint(pk, profile, _from_ns(ns), metrics) for ns, pk, profile, metrics in rows]

    def series(
        self, device_pk: int, profile_id: str, metric: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, Value]]:
        q = (
            f"SELECT {_ident(metric)} FROM {_ident(READINGS_PREFIX + profile_id)} "
            f"WHERE device = {_literal(str(device_pk))} AND {_between(start, end)}"
        )
        found = [
            (values[0], _number(values[1]))
            for series in self._query(q)
            for values in series.get("values", ())
            if values[1] is not None
        ]
        found.sort(key=lambda row: row[0])
        return [(_from_ns(ns), value) for ns, value in found]

    # -- roll-ups ---------------------------------------------------------------------------

    @staticmethod
    def _rollup_measurement(step: int) -> str:
        if step == RAW:
            raise ValueError("raw readings have no roll-ups")
        return f"rollup_{step}"

    def write_rollups(self, rollups: Sequence[Rollup]) -> None:
        lines = []
        for r in rollups:
            stats = (("min", r.min), ("max", r.max), ("mean", r.mean))
            has_stats = any(v is not None for _, v in stats)
            fields = [
                f"count={float(r.count)!r}",
                f"covered={float(r.covered)!r}",
                f"stats={'true' if has_stats else 'false'}",
                *(f"{k}={float(v)!r}" for k, v in stats if v is not None),
                f"shares={_string(json.dumps(r.shares))}",
                f"last={_string(json.dumps(r.last))}",
            ]
            lines.append(
                f"{self._rollup_measurement(r.step)},device={r.device_pk},metric={_key(r.metric)} "
                f"{','.join(fields)} {_ns(r.start)}"
            )
        self._write_lines(lines)

    def rollups(
        self, device_pk: int, metric: str, step: int, start: datetime, end: datetime
    ) -> list[Rollup]:
        return self._read_rollups(
            step,
            f"device = {_literal(str(device_pk))} AND metric = {_literal(metric)} "
            f"AND {_between(start, end)}",
        )

    def rollups_between(self, step: int, start: datetime, end: datetime) -> list[Rollup]:
        """Every device's roll-ups of ``step`` in ``[start, end)``, in time order (then by
        device and metric)."""
        return self._read_rollups(step, _between(start, end))

    def _read_rollups(self, step: int, where: str) -> list[Rollup]:
        q = (
            f"SELECT * FROM {_ident(self._rollup_measurement(step))} WHERE {where} "
            "GROUP BY device, metric"
        )
        found: list[Rollup] = []
        for series in self._query(q):
            device_pk, metric = int(series["tags"]["device"]), series["tags"]["metric"]
            columns = series["columns"]
            for values in series.get("values", ()):
                row = dict(zip(columns, values, strict=True))
                stats = bool(row.get("stats"))
                found.append(
                    Rollup(
                        device_pk=device_pk,
                        metric=metric,
                        start=_from_ns(row["time"]),
                        step=step,
                        count=round(row.get("count") or 0),
                        min=_float(row.get("min")) if stats else None,
                        max=_float(row.get("max")) if stats else None,
                        mean=_float(row.get("mean")) if stats else None,
                        shares=json.loads(row.get("shares") or "null"),
                        covered=float(row.get("covered") or 0.0),
                        last=json.loads(row.get("last") or "null"),
                    )
                )
        found.sort(key=lambda r: (r.start, r.device_pk, r.metric))
        return found

    def values_in_force(
        self, step: int, device_pks: Sequence[int], before: datetime, since: datetime
    ) -> dict[tuple[int, str], Value]:
        measurement = _ident(self._rollup_measurement(step))
        pks = sorted(set(device_pks))
        found: dict[tuple[int, str], Value] = {}
        for first in range(0, len(pks), DEVICES_PER_QUERY):
            devices = " OR ".join(
                f"device = {_literal(str(pk))}" for pk in pks[first : first + DEVICES_PER_QUERY]
            )
            q = (
                f'SELECT last("last") FROM {measurement} '
                f"WHERE {_between(since, before)} AND ({devices}) GROUP BY device, metric"
            )
            for series in self._query(q):
                for values in series.get("values", ()):
                    value = json.loads(values[1]) if values[1] is not None else None
                    if value is not None:
                        tags = series["tags"]
                        found[(int(tags["device"]), tags["metric"])] = value
        return found

    # -- retention --------------------------------------------------------------------------

    def expire(self, step: int, before: datetime) -> None:
        """Delete raw readings (``RAW``) or roll-ups of ``step`` older than ``before``.

        InfluxDB 2.x's and 3.x's v1 API does not serve ``DELETE``: there the bucket's own
        retention period applies, so an answer that DELETE is unsupported (any 4xx, or an
        error saying so) is logged as a warning, once, and not raised."""
        source = f"/^{READINGS_PREFIX}/" if step == RAW else _ident(f"rollup_{step}")
        response, error = self._command(f"DELETE FROM {source} WHERE time < {_ns(before)}")
        if error is None:
            return
        refused = 400 <= response.status_code < 500 and response.status_code not in (401, 403)
        if refused or any(s in error.lower() for s in _UNSUPPORTED):
            if not self._warned_delete:
                self._warned_delete = True
                log.warning(
                    "InfluxDB at %s does not delete old telemetry (%s); "
                    "its retention policy must expire it",
                    self.url,
                    error,
                )
            return
        raise TelemetryUnavailable(f"InfluxDB could not expire telemetry: {error}")
