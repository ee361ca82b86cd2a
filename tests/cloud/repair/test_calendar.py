"""Business time for SLAs: hand-checked deadlines in opening hours, time zones, holidays and
DST changes; add and elapsed are inverses and elapsed adds up (hypothesis drives both)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.repair.calendar import AroundTheClock, BusinessTime, OpeningHours
from device_profiles.site import Calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
HOUR = 3600.0


def office(span: str = "08:30-17:30", holidays: tuple[date | str, ...] = ()) -> OpeningHours:
    return OpeningHours("Asia/Shanghai", dict.fromkeys(WORKDAYS, span), holidays)


def local(zone: ZoneInfo, y: int, mo: int, d: int, h: int, mi: int, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=zone)


# 2024-03-01 is a Friday, 2024-03-04 a Monday.


def test_friday_afternoon_runs_into_monday_morning() -> None:
    due = office().add(local(SHANGHAI, 2024, 3, 1, 16, 30), 4 * HOUR)
    assert due == local(SHANGHAI, 2024, 3, 4, 11, 30)
    assert due.tzinfo is UTC


def test_a_ticket_opened_on_saturday_starts_counting_on_monday() -> None:
    hours = office()
    saturday = local(SHANGHAI, 2024, 3, 2, 10, 0)
    assert hours.add(saturday, HOUR) == local(SHANGHAI, 2024, 3, 4, 9, 30)
    assert hours.elapsed(saturday, local(SHANGHAI, 2024, 3, 4, 8, 30)) == 0
    assert hours.elapsed(saturday, local(SHANGHAI, 2024, 3, 4, 9, 0)) == 1800
    assert hours.add(saturday, 0) == saturday, "no counted time: the start itself"


def test_a_holiday_monday_pushes_the_deadline_to_tuesday() -> None:
    for holiday in (date(2024, 3, 4), "2024-03-04"):
        hours = office(holidays=(holiday,))
        due = hours.add(local(SHANGHAI, 2024, 3, 1, 16, 30), 4 * HOUR)
        assert due == local(SHANGHAI, 2024, 3, 5, 11, 30)


def test_seventy_two_business_hours_of_nine_are_eight_working_days() -> None:
    hours = office("08:00-17:00")
    monday = local(SHANGHAI, 2024, 3, 4, 8, 0)
    assert hours.add(monday, 72 * HOUR) == local(SHANGHAI, 2024, 3, 13, 17, 0), (
        "a deadline on a closing is that closing"
    )
    thursday = local(SHANGHAI, 2024, 3, 7, 13, 0)
    assert hours.add(thursday, 72 * HOUR) == local(SHANGHAI, 2024, 3, 19, 13, 0)


def test_around_the_clock_counts_every_second() -> None:
    clock = AroundTheClock()
    start = local(SHANGHAI, 2024, 3, 1, 16, 30)
    assert clock.add(start, 72 * HOUR) == start + timedelta(days=3)
    assert clock.add(start, 72 * HOUR).tzinfo is UTC
    assert clock.elapsed(start, start + timedelta(days=3)) == 72 * HOUR
    assert clock.elapsed(start + timedelta(days=3), start) == 0
    assert clock.is_open(start)


def test_both_are_business_time() -> None:
    assert isinstance(AroundTheClock(), BusinessTime)
    assert isinstance(office(), BusinessTime)


def test_a_working_day_is_nine_hours_long_on_both_dst_changes() -> None:
    hours = OpeningHours("Europe/Berlin", dict.fromkeys(("sat", "sun", "mon"), "08:00-17:00"))
    for sunday in (date(2024, 3, 31), date(2024, 10, 27)):
        midnight = datetime.combine(sunday, time(), BERLIN)
        assert hours.elapsed(midnight, midnight + timedelta(days=1)) == 9 * HOUR
        saturday_close = datetime.combine(sunday - timedelta(days=1), time(17), BERLIN)
        assert hours.add(saturday_close, 9 * HOUR) == datetime.combine(sunday, time(17), BERLIN)
        assert hours.add(saturday_close, 10 * HOUR) == datetime.combine(
            sunday + timedelta(days=1), time(9), BERLIN
        )


def test_a_span_across_the_change_counts_the_real_hours() -> None:
    always = OpeningHours("Europe/Berlin", dict.fromkeys(("sat", "sun", "mon"), "00:00-24:00"))
    for sunday, real in ((date(2024, 3, 31), 23), (date(2024, 10, 27), 25)):
        midnight = datetime.combine(sunday, time(), BERLIN)
        next_midnight = datetime.combine(sunday + timedelta(days=1), time(), BERLIN)
        assert always.elapsed(midnight, next_midnight) == real * HOUR


def test_closing_at_24_00_is_midnight() -> None:
    late = OpeningHours("Asia/Shanghai", {"sat": "20:00-24:00"})
    saturday = local(SHANGHAI, 2024, 3, 2, 20, 0)
    assert late.elapsed(saturday, saturday + timedelta(days=1)) == 4 * HOUR
    assert late.add(saturday, 4 * HOUR) == local(SHANGHAI, 2024, 3, 3, 0, 0)
    assert late.is_open(local(SHANGHAI, 2024, 3, 2, 23, 59, 59))


def test_opening_is_in_and_closing_is_out() -> None:
    hours = office()
    assert hours.is_open(local(SHANGHAI, 2024, 3, 4, 8, 30))
    assert hours.is_open(local(SHANGHAI, 2024, 3, 4, 17, 29, 59))
    assert not hours.is_open(local(SHANGHAI, 2024, 3, 4, 17, 30))
    assert not hours.is_open(local(SHANGHAI, 2024, 3, 4, 8, 29, 59))
    assert not hours.is_open(local(SHANGHAI, 2024, 3, 2, 12, 0)), "saturday"
    assert not office(holidays=("2024-03-04",)).is_open(local(SHANGHAI, 2024, 3, 4, 12, 0))
    assert hours.is_open(datetime(2024, 3, 4, 4, 0, tzinfo=UTC)), "12:00 in Shanghai"


def test_the_site_file_calendar_and_the_register_row_give_the_same_hours() -> None:
    site = Calendar(hours={"mon": "09:00-12:00"}, holidays=(date(2024, 3, 4),))
    from_site = OpeningHours("Asia/Shanghai", site.hours, site.holidays)
    from_row = OpeningHours("Asia/Shanghai", {"mon": "09:00-12:00"}, ["2024-03-04"])
    start = local(SHANGHAI, 2024, 3, 1, 0, 0)
    assert from_site.add(start, HOUR) == from_row.add(start, HOUR)
    assert from_row.add(start, HOUR) == local(SHANGHAI, 2024, 3, 11, 10, 0)


@pytest.mark.parametrize(
    ("zone", "hours", "holidays", "message"),
    [
        ("Mars/Olympus", {"mon": "08:00-17:00"}, (), "unknown time zone"),
        ("Asia/Shanghai", {"monday": "08:00-17:00"}, (), "unknown weekday"),
        ("Asia/Shanghai", {"mon": "8-17"}, (), "not HH:MM-HH:MM"),
        ("Asia/Shanghai", {"mon": "17:00-08:00"}, (), "opening before closing"),
        ("Asia/Shanghai", {}, (), "never count"),
        ("Asia/Shanghai", {"mon": "08:00-17:00"}, ("1 May",), "not an ISO date"),
    ],
)
def test_a_calendar_that_cannot_count_is_refused(
    zone: str, hours: dict[str, str], holidays: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        OpeningHours(zone, hours, holidays)


@pytest.mark.parametrize("clock", [AroundTheClock(), office()], ids=["clock", "hours"])
def test_naive_instants_and_negative_durations_are_refused(clock: BusinessTime) -> None:
    naive, aware = datetime(2024, 3, 4, 9), datetime(2024, 3, 4, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="no time zone"):
        clock.add(naive, HOUR)
    with pytest.raises(ValueError, match="no time zone"):
        clock.elapsed(aware, naive)
    with pytest.raises(ValueError, match="no time zone"):
        clock.is_open(naive)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite"):
            clock.add(aware, bad)


def test_a_calendar_whose_every_opening_is_a_holiday_gives_up() -> None:
    mondays = [date(2024, 1, 1) + timedelta(weeks=week) for week in range(5 * 53)]
    never = OpeningHours("Asia/Shanghai", {"mon": "08:00-17:00"}, mondays)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="every opening day a holiday"):
        never.add(start, HOUR)
    assert never.elapsed(start, datetime(2028, 1, 1, tzinfo=UTC)) == 0
    assert never.add(start, 0) == start


def _holidays() -> list[date]:
    days = []
    for year in range(2019, 2040):
        days += [date(year, 1, 1), date(year, 5, 1), date(year, 12, 25)]
        days += [date(year, 10, 1) + timedelta(days=n) for n in range(7)]
    return days


CALENDARS: dict[str, BusinessTime] = {
    "shanghai office": office(),
    "berlin with holidays": OpeningHours(
        "Europe/Berlin", dict.fromkeys((*WORKDAYS, "sat"), "08:00-17:00"), _holidays()
    ),
    "new york always": OpeningHours(
        "America/New_York",
        dict.fromkeys((*WORKDAYS, "sat", "sun"), "00:00-24:00"),
        [d.isoformat() for d in _holidays()],
    ),
    "lord howe sparse": OpeningHours(
        "Australia/Lord_Howe", {"sun": "01:00-03:00", "wed": "09:00-12:30"}
    ),
    "around the clock": AroundTheClock(),
}
ZONES = [UTC, SHANGHAI, BERLIN, ZoneInfo("America/New_York")]

calendars = st.sampled_from(sorted(CALENDARS)).map(CALENDARS.__getitem__)
instants = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.sampled_from(ZONES),
)
durations = st.one_of(
    st.integers(0, 60 * 24).map(lambda hours: hours * HOUR),
    st.floats(0, 60 * 86400, allow_nan=False, allow_infinity=False),
)
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400))


@given(calendars, instants, durations)
def test_elapsed_undoes_add(clock: BusinessTime, start: datetime, seconds: float) -> None:
    due = clock.add(start, seconds)
    assert due.tzinfo is UTC
    assert due >= start
    assert abs(clock.elapsed(start, due) - seconds) <= 1e-6
    if seconds >= 1e-6:
        assert clock.is_open(due - timedelta(microseconds=1)), "the deadline falls in counted time"


@given(calendars, instants, durations, durations)
def test_add_never_goes_back(clock: BusinessTime, start: datetime, one: float, two: float) -> None:
    assert clock.add(start, min(one, two)) <= clock.add(start, max(one, two))


@given(calendars, instants, spans, spans)
def test_elapsed_adds_up(clock: BusinessTime, a: datetime, ab: timedelta, bc: timedelta) -> None:
    b, c = a + ab, a + ab + bc
    assert abs(clock.elapsed(a, c) - (clock.elapsed(a, b) + clock.elapsed(b, c))) <= 1e-6
    assert clock.elapsed(c, a) == 0


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(["shanghai office", "berlin with holidays"]),
    instants,
    st.integers(0, 4 * 24 * 60),
)
def test_elapsed_agrees_with_the_wall_clock_minute_by_minute(
    name: str, start: datetime, minutes: int
) -> None:
    hours = CALENDARS[name]
    assert isinstance(hours, OpeningHours)
    start = start.replace(second=0, microsecond=0).astimezone(UTC)
    span = {"shanghai office": "08:30-17:30", "berlin with holidays": "08:00-17:00"}[name]
    opening, closing = (time.fromisoformat(part) for part in span.split("-"))
    open_days = 5 if name == "shanghai office" else 6
    counted = 0
    for minute in range(minutes):
        wall = (start + timedelta(minutes=minute)).astimezone(hours.zone)
        if (
            wall.weekday() < open_days
            and wall.date() not in hours.holidays
            and opening <= wall.time() < closing
        ):
            counted += 60
    assert hours.elapsed(start, start + timedelta(minutes=minutes)) == counted


def test_hours_in_the_skipped_or_repeated_hour_count_what_the_clock_really_ran() -> None:
    night = OpeningHours("Europe/Berlin", {"sun": "01:00-04:00"})
    skipped = OpeningHours("Europe/Berlin", {"sun": "02:15-02:45"})
    for sunday, real in ((date(2024, 3, 31), 2), (date(2024, 10, 27), 4), (date(2024, 4, 7), 3)):
        midnight = datetime.combine(sunday, time(), BERLIN)
        assert night.elapsed(midnight, midnight + timedelta(days=1)) == real * HOUR
    spring = datetime.combine(date(2024, 3, 31), time(), BERLIN)
    assert skipped.elapsed(spring, spring + timedelta(days=1)) == 0, "02:15 never happened"
    assert skipped.add(spring, 60) == datetime(2024, 4, 7, 2, 16, tzinfo=BERLIN)
