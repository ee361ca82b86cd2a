"""Repair figures (:mod:`cloud.repair.figures`) of a scripted Thursday of a small community,
driven through the real desk, ingest and repair rounds by an injected clock, against a
hand-checked expectation; and the definitions' edge cases on rows made by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cloud.db.models import Facility, Ticket
from cloud.register.scope import FacilityRow
from cloud.repair import figures as f
from cloud.repair import history as h
from cloud.repair.lifecycle import Actor, Move
from cloud.repair.tickets import REPORTED, By
from cloud.services import Services
from tests.cloud.helpers import GATE, batch, item
from tests.cloud.repair.community import GATE_FIXERS, SHANGHAI, community, person, set_up

THURSDAY = datetime(2025, 11, 27, tzinfo=SHANGHAI)
DAY = h.Period(THURSDAY.astimezone(UTC), (THURSDAY + timedelta(days=1)).astimezone(UTC))
H = 3600.0


def local(hour: int, minute: int = 0) -> datetime:
    """That time on the Thursday, in Shanghai (office hours 08:30-17:30)."""
    return (THURSDAY + timedelta(hours=hour, minutes=minute)).astimezone(UTC)


class Day:
    """The community's Thursday: gates report, people move tickets, rounds run, in order."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.seq = 0
        self.chen = By(Actor.SUPERVISOR, "chen", "person", person(services, "chen"))
        self.ids: dict[str, int] = {}

    def reads(self, gate: str, example: str, when: datetime) -> None:
        self.seq += 1
        reading = item(self.services.catalogue, GATE, example, ts=when, device_id=gate)
        self.services.writer.write(batch("gw-1", self.seq, [reading]))

    def ticket_of(self, gate: str) -> int:
        """The latest ticket of the gate's facility."""
        with self.services.sessions() as session:
            found = session.scalar(
                select(Ticket.id)
                .join(Facility, Facility.id == Ticket.facility_id)
                .where(Facility.code == gate)
                .order_by(Ticket.id.desc())
            )
        assert found is not None
        return found

    def moves(self, name: str, move: Move, when: datetime, note: str = "") -> None:
        with self.services.sessions.begin() as session:
            self.services.tickets.move(
                session, self.ids[name], move, self.chen, at=when, note=note or move.value
            )

    def round(self, when: datetime) -> None:
        self.services.rounds.run(self.services.sessions, when)

    def reported(self, gate: str, when: datetime) -> int:
        with self.services.sessions.begin() as session:
            facility = session.scalars(select(Facility).where(Facility.code == gate)).one()
            ticket = self.services.tickets.open_by_hand(
                session, facility, REPORTED, self.chen, at=when, title="The gate squeaks"
            )
            return ticket.id


@pytest.fixture
def thursday(sqlite_services: Services) -> Iterator[Services]:
    """Times are Shanghai's on Thursday 27 November 2025 (office 08:30-17:30; standard
    class: respond within 4 business hours, resolve within 72; gates verify for 1 h).

    - gate-a jams 09:00 (A1); acknowledged 09:10, resolved 10:50, the gate reads normal
      11:00, verified 11:50. Its card reader fails 17:00 (A2), still open at midnight.
    - gate-e reads normal; a supervisor reports it squeaking 10:00 (E, by hand, no data
      sees it): acknowledged 10:15, resolved 11:00, confirmed 11:30.
    - gate-c is forced 09:30 (C); nobody acknowledges before 13:30, its response deadline
      (breached), acknowledged 14:20, resolved 15:20, reads normal 15:30, verified 16:20.
    - gate-b jams 12:00 (B); acknowledged 12:05, reads normal 12:30, resolved 12:40,
      verified 13:40. It jams again 14:00 (reopened after the closure: a new failure),
      acknowledged 14:10, resolved 14:30, jams again 14:40 (reopened during verification:
      the same failure runs on), acknowledged 14:50, resolved 15:10, reads normal 15:30,
      verified 16:10.
    - gate-d jams 16:00 (D); cancelled 16:10 (a false alarm).
    """
    services = sqlite_services
    set_up(services, community(**GATE_FIXERS))
    day = Day(services)
    day.reads("gate-a", "motor_jammed", local(9))
    day.reads("gate-e", "normal", local(9))
    day.ids["A1"] = day.ticket_of("gate-a")
    day.round(local(9))
    day.moves("A1", Move.ACKNOWLEDGE, local(9, 10))
    day.reads("gate-c", "door_forced", local(9, 30))
    day.ids["C"] = day.ticket_of("gate-c")
    day.round(local(9, 30))
    day.ids["E"] = day.reported("gate-e", local(10))
    day.round(local(10))
    day.moves("E", Move.ACKNOWLEDGE, local(10, 15))
    day.moves("A1", Move.RESOLVE, local(10, 50))
    day.reads("gate-a", "normal", local(11))
    day.moves("E", Move.RESOLVE, local(11))
    day.moves("E", Move.CONFIRM, local(11, 30))
    day.round(local(11, 50))
    day.reads("gate-b", "motor_jammed", local(12))
    day.ids["B"] = day.ticket_of("gate-b")
    day.round(local(12))
    day.moves("B", Move.ACKNOWLEDGE, local(12, 5))
    day.reads("gate-b", "normal", local(12, 30))
    day.moves("B", Move.RESOLVE, local(12, 40))
    day.round(local(13, 40))
    day.reads("gate-b", "motor_jammed", local(14))
    day.round(local(14))
    day.moves("B", Move.ACKNOWLEDGE, local(14, 10))
    day.moves("C", Move.ACKNOWLEDGE, local(14, 20))
    day.moves("B", Move.RESOLVE, local(14, 30))
    day.reads("gate-b", "motor_jammed", local(14, 40))
    day.round(local(14, 40))
    day.moves("B", Move.ACKNOWLEDGE, local(14, 50))
    day.moves("B", Move.RESOLVE, local(15, 10))
    day.moves("C", Move.RESOLVE, local(15, 20))
    day.reads("gate-b", "normal", local(15, 30))
    day.reads("gate-c", "normal", local(15, 30))
    day.reads("gate-d", "motor_jammed", local(16))
    day.ids["D"] = day.ticket_of("gate-d")
    day.round(local(16))
    day.round(local(16, 10))
    day.moves("D", Move.CANCEL, local(16, 10), "a false alarm: a child held the leaf")
    day.round(local(16, 20))
    day.reads("gate-a", "card_reader_fault", local(17))
    day.ids["A2"] = day.ticket_of("gate-a")
    day.round(local(17))
    assert len(set(day.ids.values())) == 6
    yield services


def _figures(services: Services, *, top: int = 3) -> tuple[f.Figures, list[FacilityRow]]:
    with services.sessions() as session:
        facilities, tickets = f.load(session, f.Scope(), DAY)
    return f.figures(facilities, tickets, DAY, DAY.end, top=top), facilities


def test_a_scripted_day_gives_the_figures_worked_out_by_hand(thursday: Services) -> None:
    """By hand, for the Thursday (midnight to midnight, judged at midnight):

    MTTR — repairs closed that day, fault start → recovery:
      A1 09:00 → 11:00 (the data saw it clear; verified 11:50) = 2 h
      E  10:00 → 11:00 (resolved; confirmed on a supervisor's word) = 1 h
      B  12:00 → 12:30 (cleared before the resolve 12:40) = 0.5 h
      B  14:00 → 15:30 (the reopen at 14:40 is the same failure) = 1.5 h
      C  09:30 → 15:30 = 6 h
      → 5 repairs, 11 h / 5 = 2.2 h; data-verified 4, 10 h / 4 = 2.5 h; 1 confirmed.
    MTBF — up from a recovery to the same gate's next fault start:
      gate-a 11:00 → 17:00 = 6 h; gate-b 12:30 → 14:00 = 1.5 h;
      gate-c and gate-e failed once (no interval); gate-d's only ticket was cancelled
      → (6 + 1.5) / 2 = 3.75 h; 6 failures (A1, A2, B, B again, C, E) on 4 of 5 gates.
    SLA — tickets with a target due or met that day (D cancelled, A2's deadlines Friday):
      A1 acknowledged 09:10 by 13:00, resolved 10:50 — met
      E  acknowledged 10:15 by 14:00, resolved 11:00 — met
      B  (its latest round, from 14:40: respond by Friday 09:40) acknowledged 14:50,
         resolved 15:10 — met
      C  respond by 13:30, breached, acknowledged 14:20 — missed; resolved 15:20 — met
      → response 3 of 4, resolution 4 of 4, tickets 3 of 4 = 0.75.
    Repeats: B reopened twice (14:00, 14:40) → 1 ticket, 2 repeats.
    Tickets opened: A1, A2, B, C, E = 5 (D cancelled: 1).
    Fail most: gate-a (2 failures, down 09:00-11:00 and 17:00-24:00 = 9 h), gate-b (2, 2 h),
      gate-c (1, 6 h), then gate-e (1, 1 h) beyond the top 3.
    """
    found, _ = _figures(thursday)

    assert (found.facilities, found.tickets, found.cancelled) == (5, 5, 1)
    assert found.mttr == f.RepairTimes(
        repairs=5, verified=4, confirmed=1, mttr_s=11 * H / 5, mttr_verified_s=10 * H / 4
    )
    assert found.mtbf == f.Uptime(
        failures=6,
        facilities_failed=4,
        facilities_without_failure=1,
        intervals=2,
        mtbf_s=3.75 * H,
        status="measured",
    )
    assert found.sla == f.Compliance(
        tickets=4,
        met=3,
        compliance=0.75,
        respond=f.Target(4, 3, 0.75),
        resolve=f.Target(4, 4, 1.0),
    )
    assert found.repeats == f.Repeats(tickets=1, repeats=2)
    assert [
        (x.code, x.failures, x.tickets, x.repeats, x.down_s, x.mtbf_s, x.status)
        for x in found.most_failing
    ] == [
        ("gate-a", 2, 2, 0, 9 * H, 6 * H, "measured"),
        ("gate-b", 2, 1, 2, 2 * H, 1.5 * H, "measured"),
        ("gate-c", 1, 1, 0, 6 * H, None, "no_interval"),
    ]


def test_groups_per_facility_say_no_failure_rather_than_infinite(thursday: Services) -> None:
    with thursday.sessions() as session:
        facilities, tickets = f.load(session, f.Scope(), DAY)
    groups = f.grouped(facilities, tickets, DAY, DAY.end, f.GroupBy.FACILITY)

    by_name = {g.name.split()[-1]: g.figures for g in groups}
    assert set(by_name) == {"gate-a", "gate-b", "gate-c", "gate-d", "gate-e"}
    quiet = by_name["gate-d"]
    assert (quiet.mtbf.status, quiet.mtbf.mtbf_s, quiet.cancelled) == ("no_failure", None, 1)
    assert quiet.most_failing == ()
    assert by_name["gate-e"].mttr == f.RepairTimes(1, 0, 1, 1 * H, None)
    assert by_name["gate-b"].mttr.mttr_s == 1 * H  # (0.5 + 1.5) / 2
    [zone] = f.grouped(facilities, tickets, DAY, DAY.end, f.GroupBy.ZONE)
    assert (zone.name, zone.figures.mtbf.mtbf_s) == ("North", 3.75 * H)


def test_the_period_bounds_what_counts(thursday: Services) -> None:
    """The afternoon from 14:00: B's second failure (and both its repeats), C's and B's
    closures, D's cancel, A2; a period before anything happened has nothing."""
    afternoon = h.Period(local(14), DAY.end)
    with thursday.sessions() as session:
        facilities, tickets = f.load(session, f.Scope(), afternoon)
    found = f.figures(facilities, tickets, afternoon, DAY.end)

    assert (found.tickets, found.cancelled, found.mtbf.failures) == (1, 1, 2)
    assert found.mttr.repairs == 2  # B (1.5 h) and C (6 h), closed 16:10 and 16:20
    assert found.mttr.mttr_s == 3.75 * H
    assert found.repeats == f.Repeats(1, 2)
    assert found.mtbf.intervals == 0, "gate-a's recovery at 11:00 was before the period"

    morning = h.Period(DAY.start, local(8))
    with thursday.sessions() as session:
        facilities, tickets = f.load(session, f.Scope(), morning)
    nothing = f.figures(facilities, tickets, morning, DAY.end)
    assert (nothing.tickets, nothing.mttr.repairs, nothing.sla.tickets) == (0, 0, 0)
    assert nothing.mtbf.status == "no_failure"


# -- the definitions on rows made by hand --------------------------------------------------


T = datetime(2025, 1, 6, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T + timedelta(hours=hours)


def ticket(*events: tuple[float, str], **row: object) -> h.TicketRow:
    made = tuple(h.EventRow(n, at(hour), kind) for n, (hour, kind) in enumerate(events))
    values: dict[str, object] = {"state": "closed", "opened_at": at(events[0][0])} | row
    return h.TicketRow(1, 7, events=made, **values)  # type: ignore[arg-type]


def test_a_fault_seen_again_undoes_its_clearing() -> None:
    """Cleared at 1, seen again at 2 (an occurrence), resolved at 3: no clearing since the
    fault was last seen, so the repair's word counts."""
    [cycle] = h.cycles_of(
        ticket(
            (0, "opened"),
            (1, "fault_cleared"),
            (2, "repeated"),
            (3, "resolved"),
            (4, "verified"),
        )
    )
    assert (cycle.recovered, cycle.closed, cycle.verified) == (at(3), at(4), True)


def test_a_cancelled_cycle_counts_only_as_cancelled() -> None:
    """Repaired and verified, reopened after its closure, then cancelled: the first cycle is
    a repair, the second neither a failure nor a repeat."""
    row = ticket(
        (0, "opened"),
        (1, "resolved"),
        (2, "verified"),
        (5, "reopened"),
        (6, "cancelled"),
        state="cancelled",
    )
    first, second = h.cycles_of(row)
    assert (first.recovered, first.cancelled) == (at(1), None)
    assert (second.start, second.cancelled, second.opening) == (at(5), at(6), False)
    facility = FacilityRow(7, "g", "G", "access")
    found = f.figures([facility], [row], h.Period(at(-1), at(24)), at(24))
    assert (found.mtbf.failures, found.repeats.repeats, found.cancelled) == (1, 0, 1)
    assert found.mttr.mttr_s == 1 * H


def test_overlapping_faults_of_a_facility_keep_it_down_until_both_recover() -> None:
    cycles = [
        h.Cycle(1, 7, at(0), recovered=at(3), closed=at(4)),
        h.Cycle(2, 7, at(1), recovered=at(5), closed=at(6)),
        h.Cycle(3, 7, at(8), recovered=at(9), closed=at(10)),
        h.Cycle(4, 7, at(12)),  # still being repaired
    ]
    intervals, down = h.downtime(cycles, h.Period(at(0), at(24)), at(20))

    assert intervals == [3 * H, 3 * H]  # 5 → 8, 9 → 12
    assert down == (5 + 1 + 8) * H  # 0-5, 8-9, 12-20 (now)


def test_a_breach_of_an_earlier_round_is_missed_in_its_period() -> None:
    """Breached its response at 2, reopened at 5, its new round met: in a period holding the
    breach, the response is missed; in one holding only the new round, met."""
    made = (
        h.EventRow(1, at(0), "opened"),
        h.EventRow(2, at(2), "sla_breached", "respond"),
        h.EventRow(3, at(5), "reopened"),
    )
    row = h.TicketRow(
        1,
        7,
        "acknowledged",
        at(0),
        acknowledged_at=at(6),
        respond_by=at(9),
        resolve_by=at(80),
        events=made,
    )
    whole, _ = h.sla_of(row, h.Period(at(0), at(24)), at(24))
    later, _ = h.sla_of(row, h.Period(at(4), at(24)), at(24))
    assert (whole.counts, whole.missed) == (True, True)
    assert (later.counts, later.missed) == (True, False)
