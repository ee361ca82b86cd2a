"""/api/v1/tickets: listing, filtering, detail, opening by hand, and moves through the repair
lifecycle — by whom, as the desk decides it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from cloud.access.roles import Role
from cloud.app import create_app
from cloud.db.models import Ticket
from cloud.services import Services
from device_profiles import Catalogue
from device_profiles.protocol import batch_topic
from tests.cloud.communities import client_as, maintainer_li, oak_crew, person_id, two_communities
from tests.cloud.helpers import GATE, at, batch, item


def test_list_is_most_urgent_first_with_total_count(
    client: TestClient, seeded: dict[str, int]
) -> None:
    response = client.get("/api/v1/tickets")

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "5"
    listed = response.json()
    assert [t["fault"] for t in listed] == [
        "help_requested",  # urgent
        "motor_jammed",  # high
        "door_forced",  # normal, opened at minute 2
        "lamp_failure",  # normal, opened at minute 1
        "battery_low",  # low
    ]
    jammed = listed[1]
    assert jammed["id"] == seeded["motor_jammed"]
    assert jammed["title"] == "Gate motor jammed"
    assert jammed["facility_name"] == "Pedestrian access gate gate-01"
    assert jammed["device_id"] == "gate-01"
    assert (jammed["priority"], jammed["skill"], jammed["state"]) == (
        "high",
        "access-control",
        "open",
    )
    assert jammed["opened_at"] == "2025-11-27T00:00:00Z"


def test_total_count_is_all_matches_not_the_page(
    client: TestClient, seeded: dict[str, int]
) -> None:
    page = client.get("/api/v1/tickets", params={"limit": 2, "offset": 1})

    assert page.headers["X-Total-Count"] == "5"
    assert [t["fault"] for t in page.json()] == ["motor_jammed", "door_forced"]


def test_filter_by_state_repeatable(client: TestClient, seeded: dict[str, int]) -> None:
    client.post(f"/api/v1/tickets/{seeded['motor_jammed']}/acknowledge")
    client.post(f"/api/v1/tickets/{seeded['lamp_failure']}/resolve")
    client.post(f"/api/v1/tickets/{seeded['battery_low']}/cancel", json={"note": "replaced"})

    def faults(*states: str) -> tuple[set[str], str]:
        response = client.get("/api/v1/tickets", params=[("state", s) for s in states])
        assert response.status_code == 200
        return {t["fault"] for t in response.json()}, response.headers["X-Total-Count"]

    assert faults("acknowledged") == ({"motor_jammed"}, "1")
    assert faults("verifying") == ({"lamp_failure"}, "1"), "a light's data verifies its repair"
    assert faults("cancelled") == ({"battery_low"}, "1")
    assert faults("resolved", "closed") == (set(), "0")
    assert faults("open", "acknowledged") == (
        {"help_requested", "motor_jammed", "door_forced"},
        "3",
    )


def test_filter_by_facility_and_priority(client: TestClient, seeded: dict[str, int]) -> None:
    jammed = client.get(f"/api/v1/tickets/{seeded['motor_jammed']}").json()

    by_facility = client.get("/api/v1/tickets", params={"facility_id": jammed["facility_id"]})
    assert [t["id"] for t in by_facility.json()] == [jammed["id"]]
    assert by_facility.headers["X-Total-Count"] == "1"

    normal = client.get("/api/v1/tickets", params={"priority": "normal"})
    assert [t["fault"] for t in normal.json()] == ["door_forced", "lamp_failure"]
    several = client.get("/api/v1/tickets", params=[("priority", "urgent"), ("priority", "low")])
    assert [t["fault"] for t in several.json()] == ["help_requested", "battery_low"]
    none = client.get(
        "/api/v1/tickets", params={"priority": "low", "facility_id": jammed["facility_id"]}
    )
    assert (none.json(), none.headers["X-Total-Count"]) == ([], "0")


def test_bad_filter_value_is_422_with_a_reason(client: TestClient, seeded: dict[str, int]) -> None:
    for params in (
        {"state": "done"},
        {"priority": "asap"},
        {"facility_id": "gate"},
        {"assignee": "someone"},
    ):
        response = client.get("/api/v1/tickets", params=params)
        assert response.status_code == 422, params
        [error] = response.json()["errors"]
        assert error["loc"][:2] == ["query", next(iter(params))]
        assert error["msg"] and error["msg"] in response.json()["detail"]
    state_error = client.get("/api/v1/tickets", params={"state": "done"}).json()["errors"][0]
    for state in ("open", "assigned", "in_progress", "on_hold", "verifying", "closed"):
        assert state in state_error["msg"]
    assert client.get("/api/v1/tickets", params={"limit": 0}).status_code == 422


def test_acknowledge_then_resolve_records_events(
    client: TestClient, seeded: dict[str, int]
) -> None:
    ticket_id = seeded["motor_jammed"]

    acked = client.post(f"/api/v1/tickets/{ticket_id}/acknowledge", json={"note": "on my way"})
    assert acked.status_code == 200
    assert acked.json()["state"] == "acknowledged"
    assert acked.json()["acknowledged_at"] is not None

    resolved = client.post(f"/api/v1/tickets/{ticket_id}/resolve", json={"note": "new motor"})
    assert resolved.status_code == 200
    assert resolved.json()["state"] == "verifying", "the gate's own data verifies the repair"

    detail = client.get(f"/api/v1/tickets/{ticket_id}").json()
    assert detail["state"] == "verifying"
    assert detail["observable"] is True
    assert detail["resolved_at"] is not None and detail["verify_until"] > detail["resolved_at"]
    assert detail["closed_at"] is None
    assert [(e["kind"], e["note"], e["actor"]) for e in detail["events"]] == [
        ("opened", "", None),
        ("acknowledged", "on my way", "admin"),
        ("resolved", "new motor", "admin"),
        ("self_test", "asked gate-01 to run self_test", None),
    ]
    assert [e["actor_kind"] for e in detail["events"]] == ["rule", "person", "person", "rule"]
    assert detail["events"][0]["item_id"]
    assert detail["events"][3]["evidence"]["command"] == "self_test"
    assert detail["moves"] == ["confirm", "reopen"], "verify is Linli's own"

    confirmed = client.post(f"/api/v1/tickets/{ticket_id}/confirm", json={"note": "seen it"})
    assert confirmed.status_code == 200
    done = confirmed.json()
    assert (done["state"], done["moves"]) == ("closed", ["reopen"])
    assert done["closed_at"] and done["reopen_until"] > done["closed_at"]


def test_resolve_straight_from_open_without_body(
    client: TestClient, seeded: dict[str, int]
) -> None:
    response = client.post(f"/api/v1/tickets/{seeded['help_requested']}/resolve")

    assert response.status_code == 200
    assert response.json()["state"] == "verifying"
    kinds = [e["kind"] for e in response.json()["events"]]
    assert kinds == ["opened", "resolved", "self_test"], "the button is asked to test itself"


def test_acknowledge_resolved_ticket_is_409_with_reason(
    client: TestClient, seeded: dict[str, int]
) -> None:
    ticket_id = seeded["lamp_failure"]
    assert client.post(f"/api/v1/tickets/{ticket_id}/resolve").status_code == 200

    for action in ("acknowledge", "resolve", "cancel", "verify"):
        response = client.post(f"/api/v1/tickets/{ticket_id}/{action}", json={"note": "x"})
        assert response.status_code == 409
        detail = response.json()["detail"]
        if action == "verify":
            assert "verify" in detail, "verify is Linli's own"
        else:
            assert f"cannot {action}" in detail
            assert "verifying" in detail
    acknowledged = client.post(f"/api/v1/tickets/{seeded['door_forced']}/acknowledge")
    assert acknowledged.status_code == 200
    again = client.post(f"/api/v1/tickets/{seeded['door_forced']}/acknowledge")
    assert again.status_code == 409
    assert "acknowledged" in again.json()["detail"]
    events = client.get(f"/api/v1/tickets/{ticket_id}").json()["events"]
    assert [e["kind"] for e in events] == ["opened", "resolved"], "a refusal records nothing"


def test_hold_cancel_and_reopen_need_a_note(client: TestClient, seeded: dict[str, int]) -> None:
    ticket_id = seeded["motor_jammed"]
    assert client.post(f"/api/v1/tickets/{ticket_id}/start").status_code == 409, "not from open"
    client.post(f"/api/v1/tickets/{ticket_id}/acknowledge")
    assert client.post(f"/api/v1/tickets/{ticket_id}/start").json()["state"] == "in_progress"

    for move in ("hold", "cancel"):
        refused = client.post(f"/api/v1/tickets/{ticket_id}/{move}", json={"note": "  "})
        assert refused.status_code == 409
        assert refused.json()["detail"] == f"say why: {move} needs a note"
    held = client.post(f"/api/v1/tickets/{ticket_id}/hold", json={"note": "waiting for a motor"})
    assert held.json()["state"] == "on_hold"
    assert held.json()["moves"] == ["assign", "start", "resolve", "cancel"]
    assert client.post(f"/api/v1/tickets/{ticket_id}/start").json()["state"] == "in_progress"


def test_unknown_ticket_is_404(client: TestClient, seeded: dict[str, int]) -> None:
    for response in (
        client.get("/api/v1/tickets/9999"),
        client.post("/api/v1/tickets/9999/acknowledge"),
        client.post("/api/v1/tickets/9999/resolve"),
    ):
        assert response.status_code == 404
        assert "9999" in response.json()["detail"]


def test_invalid_action_or_body_is_422(client: TestClient, seeded: dict[str, int]) -> None:
    ticket_id = seeded["motor_jammed"]

    unknown = client.post(f"/api/v1/tickets/{ticket_id}/close")
    assert unknown.status_code == 422
    assert "assign" in unknown.json()["detail"] and "cancel" in unknown.json()["detail"]
    no_one = client.post(f"/api/v1/tickets/{ticket_id}/assign", json={"assignee_id": 0})
    assert no_one.status_code == 422
    assert client.post(f"/api/v1/tickets/{ticket_id}/resolve", json={"nope": 1}).status_code == 422
    too_long = {"note": "x" * 2001}
    assert client.post(f"/api/v1/tickets/{ticket_id}/resolve", json=too_long).status_code == 422
    assert client.get(f"/api/v1/tickets/{ticket_id}").json()["state"] == "open"


def test_a_fault_back_after_a_repair_through_the_api_reopens_its_ticket(
    client: TestClient, services: Services, catalogue: Catalogue
) -> None:
    """The e2e story with ingest's device state warm in memory between the steps: a ticket
    opened, the fault cleared and came back (an occurrence), the ticket resolved through the
    API — the fault back during verification reopens it (a repeat); confirmed, the fault
    back within the reopen window reopens it again; cancelled, the fault opens a new one.
    Readings are timed now: the API's moves are."""
    seq = iter(range(1, 100))

    def send(example: str) -> None:
        reading = item(catalogue, GATE, example, ts=datetime.now(UTC), device_id="gate-01")
        outcome = services.intake.process(
            batch_topic("gw-1"), batch("gw-1", next(seq), [reading]).model_dump_json().encode()
        )
        assert outcome.result == "stored"

    def live() -> list[dict[str, Any]]:
        listed = client.get(
            "/api/v1/tickets",
            params={"state": ["open", "assigned", "acknowledged", "in_progress", "verifying"]},
        )
        return [t for t in listed.json() if t["fault"] == "motor_jammed"]

    def move(ticket_id: int, action: str, note: str = "") -> str:
        answer = client.post(f"/api/v1/tickets/{ticket_id}/{action}", json={"note": note})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["state"])

    send("motor_jammed")
    send("normal")
    send("motor_jammed")
    [first] = live()
    assert (first["occurrences"], first["repeats"]) == (2, 0)
    assert move(first["id"], "resolve") == "verifying"

    send("motor_jammed")  # the repair did not hold

    [again] = live()
    assert (again["id"], again["state"], again["repeats"]) == (first["id"], "open", 1)
    events = client.get(f"/api/v1/tickets/{first['id']}").json()["events"]
    assert events[-1]["kind"] == "reopened" and events[-1]["actor_kind"] == "rule"
    assert events[-1]["evidence"]["device_pk"]
    assert move(first["id"], "resolve") == "verifying"
    send("normal")
    assert move(first["id"], "confirm", "checked on site") == "closed"
    assert live() == []

    send("motor_jammed")  # within the reopen window

    [repeat] = live()
    assert (repeat["id"], repeat["repeats"]) == (first["id"], 2)
    assert move(first["id"], "cancel", "gate to be replaced") == "cancelled"
    send("normal")
    send("motor_jammed")  # a cancelled ticket is not reopened: a new one opens

    [new] = live()
    assert new["id"] != first["id"]
    assert (new["occurrences"], new["repeats"]) == (1, 0)


# -- the repair loop, by the people of a community -----------------------------------------


def test_a_supervisor_assigns_and_the_maintainer_repairs(
    services: Services, catalogue: Catalogue
) -> None:
    """The oak gate's jammed motor: the supervisor assigns it to Li, who acknowledges,
    starts and resolves it — verifying, as the gate's data shows the fault. Wu, another
    maintainer of the zone, may not move it; the gate (no zone) is not Wu's to see, while
    Li reaches it because it is theirs."""
    with oak_crew(services, catalogue) as (ids, zhang, chen, (li, li_id), (wu, wu_id)):
        ticket = ids["oak_ticket"]
        before = chen.get(f"/api/v1/tickets/{ticket}").json()
        assert before["moves"] == ["assign", "acknowledge", "resolve", "cancel"]
        assert (before["assignee_id"], before["escalation"]) == (None, "maintainer")
        assert li.get(f"/api/v1/tickets/{ticket}").status_code == 404, "not in their zone"

        assigned = chen.post(f"/api/v1/tickets/{ticket}/assign", json={"assignee_id": li_id})
        assert assigned.status_code == 200, assigned.text
        body = assigned.json()
        assert (body["state"], body["assignee_id"], body["assignee_name"]) == (
            "assigned",
            li_id,
            "Lin",
        )
        assert body["assigned_at"] is not None
        assert body["events"][-1]["evidence"] == {"assignee_id": li_id, "assignee": "Lin"}
        assert zhang.get(f"/api/v1/people/{li_id}").json()["open_tickets"] == 1

        mine = li.get(f"/api/v1/tickets/{ticket}").json()
        assert mine["moves"] == ["acknowledge", "start", "resolve"]
        assert wu.get(f"/api/v1/tickets/{ticket}").status_code == 404
        assert wu.post(f"/api/v1/tickets/{ticket}/acknowledge").status_code == 404

        for move, state in (
            ("acknowledge", "acknowledged"),
            ("start", "in_progress"),
            ("resolve", "verifying"),
        ):
            moved = li.post(f"/api/v1/tickets/{ticket}/{move}", json={"note": move})
            assert moved.status_code == 200, moved.text
            assert moved.json()["state"] == state
        done = li.get(f"/api/v1/tickets/{ticket}").json()
        assert done["started_at"] and done["acknowledged_at"] and done["verify_until"]
        assert done["moves"] == [], "the data verifies it, or a supervisor confirms"
        assert [e["actor"] for e in done["events"][-3:]] == ["lin"] * 2 + [None]
        assert chen.get(f"/api/v1/tickets/{ticket}").json()["moves"] == ["confirm", "reopen"]
        assert zhang.get(f"/api/v1/people/{li_id}").json()["open_tickets"] == 0
        assert zhang.get(f"/api/v1/people/{wu_id}").json()["open_tickets"] == 0


def test_a_reported_ticket_opened_by_hand_and_confirmed(
    services: Services, catalogue: Catalogue
) -> None:
    """The oak side gate (in zone north, no device) is reported broken: the supervisor opens
    a ticket by hand, a second one for the same fault is refused naming the first; Li takes
    it by acknowledging, Wu may not move it, Li resolves it — resolved, as no data can show
    it — and the supervisor confirms it closed."""
    with oak_crew(services, catalogue) as (ids, _, chen, (li, li_id), (wu, _)):
        side_gate = ids["oak_side_gate"]
        opened = chen.post(
            "/api/v1/tickets",
            json={
                "facility_id": side_gate,
                "fault": "reported",
                "title": "Side gate hinge broken",
                "priority": "high",
                "note": "a resident called",
            },
        )
        assert opened.status_code == 201, opened.text
        ticket = opened.json()
        ticket_id = ticket["id"]
        assert opened.headers["Location"] == f"/api/v1/tickets/{ticket_id}"
        assert (ticket["fault"], ticket["title"], ticket["priority"]) == (
            "reported",
            "Side gate hinge broken",
            "high",
        )
        assert (ticket["device_id"], ticket["observable"], ticket["opened_by"]) == (
            None,
            False,
            "chen",
        )
        assert [(e["kind"], e["note"], e["actor"]) for e in ticket["events"]] == [
            ("opened", "a resident called", "chen")
        ]

        twice = chen.post("/api/v1/tickets", json={"facility_id": side_gate, "fault": "reported"})
        assert twice.status_code == 409
        assert f"ticket {ticket_id}" in twice.json()["detail"]
        assert twice.headers["Location"] == f"/api/v1/tickets/{ticket_id}"

        assert li.get(f"/api/v1/tickets/{ticket_id}").json()["moves"] == ["acknowledge"]
        taken = li.post(f"/api/v1/tickets/{ticket_id}/acknowledge")
        assert taken.status_code == 200, taken.text
        assert (taken.json()["state"], taken.json()["assignee_id"]) == ("acknowledged", li_id)
        assert wu.get(f"/api/v1/tickets/{ticket_id}").json()["moves"] == []
        refused = wu.post(f"/api/v1/tickets/{ticket_id}/start")
        assert refused.status_code == 409
        assert refused.json()["detail"] == f"ticket {ticket_id} is not assigned to you"

        resolved = li.post(f"/api/v1/tickets/{ticket_id}/resolve", json={"note": "new hinge"})
        assert resolved.json()["state"] == "resolved", "no data can show it repaired"
        assert resolved.json()["verify_until"] is None
        assert li.post(f"/api/v1/tickets/{ticket_id}/confirm").status_code == 409
        confirmed = chen.post(f"/api/v1/tickets/{ticket_id}/confirm", json={"note": "ok"})
        assert confirmed.status_code == 200
        assert confirmed.json()["state"] == "closed"
        assert [e["kind"] for e in confirmed.json()["events"]] == [
            "opened",
            "acknowledged",
            "resolved",
            "confirmed",
        ]
        again = chen.post("/api/v1/tickets", json={"facility_id": side_gate, "fault": "reported"})
        assert again.status_code == 201, "once closed, a new report is a new ticket"


def test_who_opens_tickets_by_hand_and_for_what(services: Services, catalogue: Catalogue) -> None:
    ids = two_communities(services, catalogue)
    oak_gate = _facility_of(services, ids["oak_ticket"])
    with client_as(services, "zhang", Role.PROPERTY_MANAGER, ids["oak"]) as zhang:
        issued = {
            scope: zhang.post(
                "/api/v1/auth/tokens", json={"name": scope.replace(":", "-"), "scopes": [scope]}
            ).json()["token"]
            for scope in ("tickets:write", "tickets:read")
        }
    with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
        jammed = chen.post(
            "/api/v1/tickets", json={"facility_id": oak_gate, "fault": "motor_jammed"}
        )
        assert jammed.status_code == 409, "the data opened one already"
        assert f"ticket {ids['oak_ticket']}" in jammed.json()["detail"]

        unknown = chen.post("/api/v1/tickets", json={"facility_id": oak_gate, "fault": "melted"})
        assert unknown.status_code == 409, "what the facility has is the register's state"
        assert "motor_jammed" in unknown.json()["detail"]
        assert "reported" in unknown.json()["detail"]

        elm_gate = _facility_of(services, ids["elm_ticket"])
        foreign = chen.post("/api/v1/tickets", json={"facility_id": elm_gate, "fault": "reported"})
        assert foreign.status_code == 404
        missing = chen.post("/api/v1/tickets", json={"facility_id": 99999, "fault": "reported"})
        assert missing.status_code == 404
        bad = chen.post(
            "/api/v1/tickets", json={"facility_id": oak_gate, "fault": "reported", "nope": 1}
        )
        assert bad.status_code == 422
    with maintainer_li(services, ids) as (li, _):
        maintainer = li.post("/api/v1/tickets", json={"facility_id": oak_gate, "fault": "reported"})
        assert maintainer.status_code == 403
    with TestClient(create_app(services)) as bms:
        body = {"facility_id": oak_gate, "fault": "reported"}
        reader = {"Authorization": f"Bearer {issued['tickets:read']}"}
        assert bms.post("/api/v1/tickets", json=body, headers=reader).status_code == 403
        writer = {"Authorization": f"Bearer {issued['tickets:write']}"}
        made = bms.post("/api/v1/tickets", json=body, headers=writer)
        assert made.status_code == 201, made.text
        assert made.json()["opened_by"] == "token:tickets-write"
        assert made.json()["events"][0]["actor_kind"] == "token"
        assert made.json()["moves"] == ["assign", "acknowledge", "resolve", "cancel"]


def test_assignee_filter_and_me(services: Services, catalogue: Catalogue) -> None:
    ids = two_communities(services, catalogue)
    with (
        client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen,
        maintainer_li(services, ids) as (li, li_id),
    ):
        side = chen.post(
            "/api/v1/tickets", json={"facility_id": ids["oak_side_gate"], "fault": "reported"}
        ).json()["id"]
        assert li.get("/api/v1/tickets", params={"assignee": "me"}).json() == []
        assert [t["id"] for t in li.get("/api/v1/tickets").json()] == [side], "their zone's"

        assert (
            chen.post(
                f"/api/v1/tickets/{ids['oak_ticket']}/assign", json={"assignee_id": li_id}
            ).status_code
            == 200
        )
        elsewhere = chen.post(
            f"/api/v1/tickets/{ids['elm_ticket']}/assign", json={"assignee_id": li_id}
        )
        assert elsewhere.status_code == 404

        def listed(client: TestClient, **params: str) -> tuple[list[int], str]:
            answer = client.get("/api/v1/tickets", params=params)
            assert answer.status_code == 200, answer.text
            return [t["id"] for t in answer.json()], answer.headers["X-Total-Count"]

        assert listed(li, assignee="me") == ([ids["oak_ticket"]], "1")
        assert listed(chen, assignee=str(li_id)) == ([ids["oak_ticket"]], "1")
        assert sorted(listed(li)[0]) == sorted([ids["oak_ticket"], side]), "and theirs"
        assert listed(li, assignee="me", state="open") == ([], "0")
        assert listed(li, assignee="me", state="assigned") == ([ids["oak_ticket"]], "1")

        me = chen.get("/api/v1/tickets", params={"assignee": "me"})
        assert me.status_code == 403
        assert "no person" in me.json()["detail"]
        assert listed(chen, assignee="9999999999") == ([], "0")


def test_assign_needs_a_maintainer_of_the_community(
    services: Services, catalogue: Catalogue
) -> None:
    ids = two_communities(services, catalogue)
    ticket = ids["oak_ticket"]
    with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
        nobody = chen.post(f"/api/v1/tickets/{ticket}/assign")
        assert nobody.status_code == 409
        assert "assignee_id" in nobody.json()["detail"]
        elm_li = person_id(services, "li", "elm")
        foreign = chen.post(f"/api/v1/tickets/{ticket}/assign", json={"assignee_id": elm_li})
        assert foreign.status_code == 409
        assert re.search(rf"no person {elm_li} works in this community", foreign.json()["detail"])
        assert chen.get(f"/api/v1/tickets/{ticket}").json()["state"] == "open"


def _facility_of(services: Services, ticket_id: int) -> int:
    with services.sessions() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket.facility_id


def test_a_reported_repair_and_the_tickets_that_are_part_of_it_are_linked(
    services: Services, catalogue: Catalogue
) -> None:
    """A resident reports the oak gate broken; the gate then reports its door forced: that
    ticket is part of the reported repair, and each names the other in ``linked``. The jammed
    motor's ticket, opened before, is a repair of its own."""
    ids = two_communities(services, catalogue)
    gate = _facility_of(services, ids["oak_ticket"])
    with client_as(services, "chen", Role.SUPERVISOR, ids["oak"]) as chen:
        reported = chen.post("/api/v1/tickets", json={"facility_id": gate, "fault": "reported"})
        assert reported.status_code == 201, reported.text
        reported_id = reported.json()["id"]
        assert reported.json()["linked"] == []

        services.writer.write(
            batch("gw-a", 2, [item(catalogue, GATE, "door_forced", ts=at(1), device_id="g1")])
        )

        forced = [t for t in chen.get("/api/v1/tickets").json() if t["fault"] == "door_forced"]
        assert [t["linked_id"] for t in forced] == [reported_id]
        forced_id = forced[0]["id"]
        assert chen.get(f"/api/v1/tickets/{forced_id}").json()["linked"] == [reported_id]
        assert chen.get(f"/api/v1/tickets/{reported_id}").json()["linked"] == [forced_id]
        jammed = chen.get(f"/api/v1/tickets/{ids['oak_ticket']}").json()
        assert (jammed["linked_id"], jammed["linked"]) == (None, [])
