"""The period a query asks about (``from``/``to`` of telemetry and figures): times taken in
UTC — without an offset they are UTC — and held between 1970 and 2200, so that no date a
client sends breaks the arithmetic of the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def within(moment: datetime) -> datetime:
    """``moment`` in UTC, held between :data:`EARLIEST` and :data:`LATEST`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        return EARLIEST if moment.year < 2000 else LATEST
    return min(max(moment, EARLIEST), LATEST)


def period(
    start: datetime | None, end: datetime | None, now: datetime, span: timedelta
) -> tuple[datetime, datetime]:
    """``[start, end)`` as asked: ``end`` by default ``now``, ``start`` by default ``span``
    before ``end``."""
    until = within(end) if end is not None else now
    since = within(start) if start is not None else within(until - span)
    return since, until
