"""Notifications end to end, across a cloud restart: a webhook receiver and an SMTP server
started by the test receive exactly the notifications they should, once each.

The cloud runs as ``linli cloud run`` does in production, its own process on a SQLite file;
tickets are opened through its API and dispatched by its repair rounds. When the webhook of
the second ticket's ``opened`` event reaches the receiver, the receiver kills the cloud
(SIGKILL) before answering: that delivery was sent but can never be marked delivered — the
one way at-least-once delivery sends a notification twice. A new cloud process on the same
database then sends everything still due, that delivery again after its lease, and what
happens from then on.

"Once each" is asserted by idempotency key, as a receiver that de-duplicates sees them: every
key the rule calls for arrives; none else; a delivery recorded as delivered before the kill
arrives exactly once; only deliveries cut between their send and their mark — the killing
one certainly — arrive twice.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.notify.rules import NOTIFYING
from linli.demo import linli_command
from linli.ports import free_port
from linli.processes import Child, ProcessGroup
from tests.cloud.notify.receivers import Hook, Mailbox, WebhookReceiver, smtp_server

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = "e2e-admin-password"
SITE = """\
schema: linli.site/v1
community: {id: birch, name: Birch Court, time_zone: Asia/Shanghai}
zones: {north: {name: North}}
facilities:
  bench-1: {name: Bench by the pond, zone: north}
  bench-2: {name: Bench by the gate, zone: north}
people:
  zhang: {name: Zhang Min, role: property_manager, email: zhang@birch.example}
  chen: {name: Chen Jie, role: supervisor, email: chen@birch.example}
  wang: {name: Wang Lei, role: maintainer, skills: [general-repair], email: wang@birch.example}
"""
STEP_S = 20
SEAT = "The seat is loose"
"""The title of the second ticket, whose webhook stops the cloud"""


def eventually(probe: Callable[[], Any], what: str, within: float = STEP_S) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {what}")


class Cloud:
    """``linli cloud run`` on one data directory, started again as often as asked."""

    def __init__(self, workdir: Path, processes: ProcessGroup) -> None:
        self.data_dir = workdir / "cloud"
        self.port = free_port()
        self.processes = processes
        self.runs = 0
        self.child: Child | None = None

    def start(self) -> httpx.Client:
        self.runs += 1
        self.child = self.processes.start(
            f"cloud-{self.runs}",
            linli_command(
                "cloud", "run", "--no-ingest", "--port", str(self.port),
                "--data-dir", str(self.data_dir),
            ),
        )  # fmt: skip
        api = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=5)

        def healthy() -> bool:
            assert self.child is not None and self.child.exit_status() is None, self.log()
            try:
                return api.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        eventually(healthy, "the cloud up")
        login = api.post(
            "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        api.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        return api

    def kill(self) -> None:
        """As a power cut would: no shutdown, nothing flushed or finished."""
        assert self.child is not None
        self.child.signal_group(9)

    def log(self) -> str:
        return self.child.log_path.read_text()[-3000:] if self.child else ""

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.data_dir / "linli.db", timeout=10)) as db:
            return db.execute(query).fetchall()


@contextmanager
def cloud_with_receivers(
    workdir: Path,
) -> Iterator[tuple[Cloud, WebhookReceiver, str, Mailbox]]:
    """The cloud (not started), the webhook receiver and its URL, the SMTP server's mailbox."""
    receiver = WebhookReceiver()
    mailbox = Mailbox()
    site = workdir / "birch.site.yaml"
    site.write_text(SITE)
    with receiver.serving() as url, smtp_server(mailbox) as smtp_port:
        env = {
            "LINLI_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "LINLI_CLOUD_NOTIFY_CHECK_S": "0.2",
            "LINLI_CLOUD_NOTIFY_RETRY_FIRST_S": "0.5",
            "LINLI_CLOUD_NOTIFY_TIMEOUT_S": "1.5",
            "LINLI_CLOUD_NOTIFY_LEASE_S": "3",
            "LINLI_CLOUD_NOTIFY_MQTT": "false",
            "LINLI_CLOUD_SMTP_HOST": "127.0.0.1",
            "LINLI_CLOUD_SMTP_PORT": str(smtp_port),
            "LINLI_CLOUD_SMTP_FROM": "linli@birch.example",
            "LINLI_CLOUD_REPAIR_CHECK_S": "0.3",
        }
        applied = subprocess.run(
            linli_command("site", "apply", str(site), "--data-dir", str(workdir / "cloud")),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert applied.returncode == 0, applied.stderr
        with ProcessGroup(workdir / "logs", env={**os.environ, **env}) as processes:
            yield Cloud(workdir, processes), receiver, url, mailbox


def open_ticket(api: httpx.Client, facility_id: int, title: str) -> int:
    opened = api.post(
        "/api/v1/tickets", json={"facility_id": facility_id, "fault": "reported", "title": title}
    )
    assert opened.status_code == 201, opened.text
    ticket_id: int = opened.json()["id"]
    return ticket_id


def test_webhook_and_email_arrive_once_each_across_a_cloud_restart(tmp_path: Path) -> None:
    with cloud_with_receivers(tmp_path) as (cloud, receiver, url, mailbox):
        api = cloud.start()
        community = api.get("/api/v1/communities").json()[0]["id"]
        facilities = {f["name"]: f["id"] for f in api.get("/api/v1/facilities").json()}
        hook = api.post(
            "/api/v1/webhooks", json={"community_id": community, "name": "board", "url": url}
        )
        assert hook.status_code == 201, hook.text
        receiver.secret = hook.json()["secret"]
        hook_id = hook.json()["id"]

        # 1. a ticket opened and dispatched: its notifications all arrive
        first = open_ticket(api, facilities["Bench by the pond"], "A slat is broken")
        eventually(
            lambda: api.get(f"/api/v1/tickets/{first}").json()["state"] == "assigned",
            "the first ticket dispatched",
        )
        eventually(lambda: len(receiver.by_key) == 2, "its two webhooks")
        eventually(lambda: len(mailbox.by_key) == 3, "its three e-mails")

        # 2. the second ticket's `opened` webhook kills the cloud before it is answered
        killed = threading.Event()

        def cut(hook: Hook) -> None:
            second_opened = hook.kind == "opened" and hook.body["ticket"]["title"] == SEAT
            if second_opened and not killed.is_set():
                killed.set()
                cloud.kill()

        receiver.on_request = cut
        second = open_ticket(api, facilities["Bench by the gate"], SEAT)
        eventually(killed.is_set, "the cloud killed by the second ticket's webhook")
        stopped = cloud.child
        assert stopped is not None
        eventually(lambda: stopped.exit_status() is not None, "the cloud gone")
        api.close()
        cut_key = next(h.key for h in receiver.hooks if h.body["ticket"]["id"] == second)
        marked = cloud.rows("SELECT key FROM deliveries WHERE delivered_at IS NOT NULL")
        delivered_before = {key for (key,) in marked}
        received_before = set(receiver.by_key) | set(mailbox.by_key)
        assert cut_key not in delivered_before, "sent, never marked"

        # 3. a new cloud on the same database: what was due goes out, and what happens next
        api = cloud.start()
        eventually(  # the new cloud's rounds dispatch the second ticket: then the cancel
            lambda: api.get(f"/api/v1/tickets/{second}").json()["state"] == "assigned",
            "the second ticket dispatched",
        )
        cancelled = api.post(f"/api/v1/tickets/{first}/cancel", json={"note": "replaced"})
        assert cancelled.status_code == 200, cancelled.text

        def settled() -> bool:
            [(pending,)] = cloud.rows("SELECT count(*) FROM deliveries WHERE delivered_at IS NULL")
            [(unfanned,)] = cloud.rows("SELECT count(*) FROM notices WHERE fanned_out_at IS NULL")
            return pending == 0 and unfanned == 0

        eventually(settled, "every delivery delivered after the restart", within=30)
        api.close()

    # what the rule calls for, from the ticket events the cloud wrote
    events = cloud.rows("SELECT e.id, e.kind, e.ticket_id FROM ticket_events e ORDER BY e.id")
    people = dict(cloud.rows("SELECT slug, id FROM people"))
    told = {
        "opened": ["chen", "zhang"],
        "assigned": ["wang"],
        "cancelled": ["wang"],
    }
    notifying = [(event_id, kind) for event_id, kind, _ in events if kind in NOTIFYING]
    assert [kind for _, kind in notifying] == [
        "opened", "assigned", "opened", "assigned", "cancelled",
    ]  # fmt: skip
    webhooks = {f"{event_id}:webhook:{hook_id}" for event_id, _ in notifying}
    emails = {
        f"{event_id}:email:person-{people[slug]}"
        for event_id, kind in notifying
        for slug in told.get(kind, [])
    }
    assert set(receiver.by_key) == webhooks
    assert set(mailbox.by_key) == emails
    assert all(h.signed for h in receiver.hooks), "every request signed"

    copies = {key: len(c) for key, c in receiver.by_key.items()}
    copies |= {key: len(c) for key, c in mailbox.by_key.items()}
    twice = {key for key, n in copies.items() if n > 1}
    assert max(copies.values()) <= 2
    assert cut_key in twice, "the delivery cut between send and mark came again"
    assert not twice & delivered_before, "what was marked delivered never came again"
    assert twice <= received_before - delivered_before, "only what was in flight at the kill"
    assert cloud.runs == 2
