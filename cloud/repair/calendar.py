"""Business time for repair SLAs: "resolve within 72 business hours" counted in a community's
opening hours, in its time zone, skipping its holidays.

A calendar is a sequence of open intervals, at most one per local day: the day's opening and
closing are local wall-clock times in the community's zone, turned into instants with
``zoneinfo``, so an 08:00-17:00 day is 9 h long on a DST change day too (a span containing the
change, say 00:00-24:00, counts the real 23 h or 25 h; a time the clock skips opens or closes
when it jumps). Counted time is the real time inside those intervals: :meth:`BusinessTime.add`
walks forward to a deadline and :meth:`BusinessTime.elapsed` sums what lies between two
instants, day by day, never minute by minute; the two are exact inverses (to the microsecond).

A deadline that falls exactly on a closing is that closing, not the next opening; counting
from outside opening hours begins at the next opening; ``add(start, 0)`` is ``start`` itself.
Every instant in or out is timezone-aware; results are in UTC. :class:`AroundTheClock` is the
same interface for SLA classes that count every second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from device_profiles.site import Weekday, hours_of

WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
GIVE_UP_DAYS = 3 * 366
"""A walk that finds no opening time for this many days in a row gives up."""
_DAY = timedelta(days=1)


@runtime_checkable
class BusinessTime(Protocol):
    """What SLA code counts time with."""

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` of counted time have passed since ``start``."""
        ...

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Counted seconds between ``start`` and ``end``; 0 if ``end`` is not after ``start``."""
        ...

    def is_open(self, at: datetime) -> bool:
        """Whether time counts at ``at``."""
        ...


class AroundTheClock:
    """Counts every second: 72 hours are three days."""

    def add(self, start: datetime, seconds: float) -> datetime:
        return _utc(start) + _duration(seconds)

    def elapsed(self, start: datetime, end: datetime) -> float:
        return max(0.0, (_utc(end) - _utc(start)).total_seconds())

    def is_open(self, at: datetime) -> bool:
        _utc(at)
        return True


class OpeningHours:
    """Counts the opening hours of a community, in its time zone, but not on its holidays.

    ``hours`` maps a weekday (``mon`` … ``sun``) to ``HH:MM-HH:MM`` (``24:00`` closes at
    midnight); a day not named is closed. ``holidays`` are local dates or ISO date strings, so
    both a site file's ``Calendar`` and the register's ``BusinessCalendar`` fit as they are.
    """

    def __init__(
        self,
        time_zone: str,
        hours: Mapping[str, str] | Mapping[Weekday, str],
        holidays: Iterable[date | str] = (),
    ) -> None:
        try:
            self.zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(
                f"unknown time zone {time_zone!r} (IANA names: Asia/Shanghai)"
            ) from None
        self._spans: list[tuple[time, time | None] | None] = [None] * 7
        for day, span in hours.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r} (one of {', '.join(WEEKDAYS)})")
            opening = hours_of(span) if isinstance(span, str) else None
            if opening is None:
                raise ValueError(f"{day}: {span!r} is not HH:MM-HH:MM, opening before closing")
            # hours_of gives 24:00 as the last microsecond; it means the next midnight
            closing = None if opening[1] == time.max else opening[1]
            self._spans[WEEKDAYS.index(day)] = (opening[0], closing)
        if not any(self._spans):
            raise ValueError("a calendar without opening hours would never count business time")
        self.holidays = frozenset(_date(holiday) for holiday in holidays)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant ``seconds`` of opening time after ``start`` (``start`` itself for 0);
        ValueError if no opening time is found for :data:`GIVE_UP_DAYS` days in a row."""
        start, left = _utc(start), _duration(seconds)
        if not left:
            return start
        for opening, closing in self._intervals(start):
            begin = max(opening, start)
            if begin >= closing:
                continue
            if left <= closing - begin:
                return begin + left
            left -= closing - begin
        raise AssertionError("unreachable: the walk ends or gives up")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Seconds of opening time between ``start`` and ``end``; 0 if ``end`` is not after."""
        start, end = _utc(start), _utc(end)
        counted = timedelta(0)
        if end > start:
            for opening, closing in self._intervals(start, until=end):
                counted += max(timedelta(0), min(closing, end) - max(opening, start))
        return counted.total_seconds()

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` is in opening hours (from the opening, up to but not the closing)."""
        at = _utc(at)
        return any(o <= at < c for o, c in self._intervals(at, until=at + timedelta.resolution))

    def _interval(self, day: date) -> tuple[datetime, datetime] | None:
        """The local day's opening and closing as UTC instants; None if it is closed."""
        span = None if day in self.holidays else self._spans[day.weekday()]
        if span is None:
            return None
        opening, closing = span
        shut = (
            datetime.combine(day + _DAY, time())
            if closing is None
            else datetime.combine(day, closing)
        )
        interval = self._instant(datetime.combine(day, opening)), self._instant(shut)
        return interval if interval[0] < interval[1] else None

    def _instant(self, wall: datetime) -> datetime:
        """The first instant the local clock reads ``wall`` or later: the first of a repeated
        time, the jump itself for a time the clock skips (02:30 when it leaps 02:00 → 03:00)."""
        late = wall.replace(tzinfo=self.zone).astimezone(UTC)
        if late.astimezone(self.zone).replace(tzinfo=None) == wall:
            return late
        early = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        while late - early > timedelta.resolution:  # bisect the jump, inside the skipped hour
            middle = early + (late - early) / 2
            if middle.astimezone(self.zone).replace(tzinfo=None) >= wall:
                late = middle
            else:
                early = middle
        return late

    def _intervals(
        self, since: datetime, until: datetime | None = None
    ) -> Iterator[tuple[datetime, datetime]]:
        """The open intervals, in order, of the local days from the one before ``since``'s (a
        margin for DST at midnight) to ``until``'s, or on without end if there is no ``until``."""
        day = since.astimezone(self.zone).date() - _DAY
        last = None if until is None else until.astimezone(self.zone).date()
        idle = 0
        while last is None or day <= last:
            interval = self._interval(day)
            if interval is not None:
                idle = 0
                yield interval
            elif last is None and (idle := idle + 1) > GIVE_UP_DAYS:
                raise ValueError(
                    f"no opening time in the {GIVE_UP_DAYS} days up to {day.isoformat()}: "
                    "is every opening day a holiday?"
                )
            day += _DAY


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone; business time needs aware instants")
    return at.astimezone(UTC)


def _duration(seconds: float) -> timedelta:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"counted time must be a finite number of seconds ≥ 0, not {seconds!r}")
    return timedelta(seconds=seconds)


def _date(holiday: date | str) -> date:
    if isinstance(holiday, datetime):
        return holiday.date()
    if isinstance(holiday, date):
        return holiday
    try:
        return date.fromisoformat(holiday)
    except (TypeError, ValueError):
        raise ValueError(f"holiday {holiday!r} is not an ISO date (2025-10-01)") from None
