"""GET /api/v1/events/stream against a running app (uvicorn on a loopback port), read with
httpx as a browser's EventSource would: ticket events as they are written, of the caller's
community and reach only; resumed after Last-Event-ID; kept alive by comments; ended when
the login ends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from cloud.access.roles import Role
from cloud.app import create_app
from cloud.repair.lifecycle import Actor, Move
from cloud.repair.tickets import By
from cloud.services import Services
from device_profiles import Catalogue
from linli.ports import free_port
from tests.cloud.communities import person_id, two_communities
from tests.cloud.conftest import ADMIN_PASSWORD, make_account

ADMIN = By(Actor.OPERATOR_ADMIN, "admin", "person")


@pytest.fixture
def two(services: Services, catalogue: Catalogue) -> dict[str, int]:
    return two_communities(services, catalogue)


@contextmanager
def serving(services: Services) -> Iterator[str]:
    """The app on a free port, its streams looking every 50 ms, keeping alive every 0.3 s;
    its base URL."""
    services.settings = services.settings.model_copy(
        update={
            "events_poll_s": 0.05,
            "events_heartbeat_s": 0.3,
            "notify_check_s": 0.0,
            "repair_check_s": 0.0,
            "silence_check_s": 0.0,
            "rollup_check_s": 0.0,
        }
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(services),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def logged_in(base: str, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=5) as client:
        answer = client.post(
            "/api/v1/auth/login", json={"username": username, "password": ADMIN_PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        yield client


@dataclass
class Stream:
    """What a stream sent, read in a thread of its own."""

    events: list[dict[str, Any]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    comments: int = 0
    ended: bool = False
    status: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, check: Callable[[Stream], bool], within: float = 10, what: str = "") -> None:
        deadline = time.monotonic() + within
        while not check(self):
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.events}"
            time.sleep(0.02)

    @property
    def kinds(self) -> list[tuple[str, int]]:
        with self.lock:
            return [(e["kind"], e["ticket"]["id"]) for e in self.events]


@contextmanager
def streaming(client: httpx.Client, headers: dict[str, str] | None = None) -> Iterator[Stream]:
    stream = Stream()
    opened = threading.Event()

    def read() -> None:
        with client.stream("GET", "/api/v1/events/stream", headers=headers or {}) as answer:
            stream.status = answer.status_code
            opened.set()
            kind = None
            for line in answer.iter_lines():
                if line.startswith(":"):
                    stream.comments += 1
                elif line.startswith("id: "):
                    stream.ids.append(int(line[4:]))
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    body = json.loads(line[6:])
                    assert body["kind"] == kind
                    with stream.lock:
                        stream.events.append(body)
                if stop.is_set():
                    return
        stream.ended = True

    stop = threading.Event()
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert opened.wait(10), "the stream did not answer"
    try:
        yield stream
    finally:
        stop.set()
        thread.join(5)


def act(services: Services, ticket_id: int, move: Move, **options: Any) -> None:
    with services.sessions.begin() as session:
        services.tickets.move(
            session, ticket_id, move, ADMIN, at=datetime.now(UTC), note="by the test", **options
        )


def test_a_supervisor_sees_their_communitys_events_as_they_happen(
    services: Services, two: dict[str, int]
) -> None:
    make_account(services, "chen", Role.SUPERVISOR, two["oak"])
    oak, elm = two["oak_ticket"], two["elm_ticket"]
    with serving(services) as base, logged_in(base, "chen") as chen, streaming(chen) as stream:
        assert stream.status == 200
        stream.wait(lambda s: s.comments >= 1, what="the first comment")
        assert stream.events == [], "a new stream starts from now"
        act(services, elm, Move.ACKNOWLEDGE)
        act(services, oak, Move.ACKNOWLEDGE)
        act(services, oak, Move.START)
        act(services, elm, Move.START)
        act(services, oak, Move.HOLD)  # a fence: what came before it has been sent
        stream.wait(lambda s: len(s.events) >= 3, what="oak's three events")
        assert stream.kinds == [("acknowledged", oak), ("started", oak), ("held", oak)]
        assert stream.ids == sorted(stream.ids)
        first = stream.events[0]
        assert (first["actor"], first["note"], first["ticket"]["state"]) == (
            "admin",
            "by the test",
            "acknowledged",
        )
        stream.wait(lambda s: s.comments >= 3, what="keep-alive comments")


def test_a_maintainer_sees_their_zones_and_their_own_tickets(
    services: Services, two: dict[str, int]
) -> None:
    """Li works in oak's north zone: the oak gate's ticket (no zone) reaches them only once
    it is assigned to them."""
    li = person_id(services, "li")
    make_account(services, "li", Role.MAINTAINER, two["oak"], person_id=li)
    oak = two["oak_ticket"]
    with serving(services) as base, logged_in(base, "li") as client, streaming(client) as stream:
        act(services, oak, Move.ACKNOWLEDGE)
        act(services, oak, Move.ASSIGN, assignee_id=li)
        act(services, oak, Move.ACKNOWLEDGE)  # a fence: what came before it has been sent
        stream.wait(lambda s: len(s.events) >= 2, what="the assignment and the fence")
        assert stream.kinds == [("assigned", oak), ("acknowledged", oak)]


def test_a_stream_resumes_after_the_last_event_it_sent(
    services: Services, two: dict[str, int]
) -> None:
    make_account(services, "zhang", Role.PROPERTY_MANAGER, two["oak"])
    oak = two["oak_ticket"]
    with serving(services) as base, logged_in(base, "zhang") as zhang:
        with streaming(zhang) as stream:
            act(services, oak, Move.ACKNOWLEDGE)
            stream.wait(lambda s: len(s.events) >= 1, what="the acknowledgement")
            last = stream.ids[-1]
        act(services, oak, Move.START)  # while nobody listens
        act(services, oak, Move.HOLD)
        with streaming(zhang, {"Last-Event-ID": str(last)}) as resumed:
            resumed.wait(lambda s: len(s.events) >= 2, what="what it missed")
            assert resumed.kinds == [("started", oak), ("held", oak)]
            assert resumed.ids[0] > last


def test_the_stream_ends_with_the_login(services: Services, two: dict[str, int]) -> None:
    make_account(services, "zhang", Role.PROPERTY_MANAGER, two["oak"])
    with serving(services) as base, logged_in(base, "zhang") as zhang:
        with streaming(zhang) as stream:
            stream.wait(lambda s: s.comments >= 1, what="the stream to start")
            with logged_in(base, "zhang") as other:  # the same account, another session
                assert other.post("/api/v1/auth/logout").status_code == 204
            assert not stream.ended, "another session's logout ends nothing"
            assert zhang.post("/api/v1/auth/logout").status_code == 204
            stream.wait(lambda s: s.ended, what="the stream to end")
        with httpx.Client(base_url=base, timeout=5) as anonymous:
            assert anonymous.get("/api/v1/events/stream").status_code == 401


def test_a_token_without_tickets_read_gets_403(services: Services, two: dict[str, int]) -> None:
    make_account(services, "zhang", Role.PROPERTY_MANAGER, two["oak"])
    with serving(services) as base, logged_in(base, "zhang") as zhang:
        issued = zhang.post(
            "/api/v1/auth/tokens", json={"name": "board", "scopes": ["register:read"]}
        ).json()
        with httpx.Client(base_url=base, timeout=5) as token:
            bearer = {"Authorization": f"Bearer {issued['token']}"}
            assert token.get("/api/v1/events/stream", headers=bearer).status_code == 403


def test_the_dashboard_listens_to_ticket_events(client: TestClient) -> None:
    """The dashboard's script subscribes to the stream for the kinds the page names (the
    browser test sees it update in place)."""
    page = client.get("/").text
    assert "/static/dashboard.js" in page
    kinds = page.split('data-kinds="', 1)[1].split('"', 1)[0].split()
    assert "assigned" in kinds and "sla_breached" in kinds
    script = client.get("/static/dashboard.js")
    assert script.status_code == 200
    assert 'new EventSource("/api/v1/events/stream")' in script.text
