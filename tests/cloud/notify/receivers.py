"""Real receivers of notifications, started by the tests on loopback ports: an HTTP server
that takes webhooks (checking each signature, failing on request), and an SMTP server
(aiosmtpd) that takes e-mail. Each keeps what it took by idempotency key, as a receiver that
de-duplicates would, and every copy, so tests can tell repeats."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from cloud.notify.webhooks import DELIVERY, EVENT, SIGNATURE, TIMESTAMP, verify
from linli.ports import free_port


@dataclass
class Hook:
    """One webhook request as it came."""

    key: str
    kind: str
    body: dict[str, Any]
    signed: bool
    """whether its signature was the secret's (and its timestamp fresh)"""


@dataclass
class WebhookReceiver:
    """An HTTP server on 127.0.0.1; ``url`` takes the webhooks. ``answer`` decides each
    request's status from its key and how often that key came (1 for the first)."""

    secret: str = ""
    answer: Callable[[str, int], int] = lambda key, copy: 200
    on_request: Callable[[Hook], None] = lambda hook: None
    """called with each request before it is answered (a test may stop the cloud there)"""
    hooks: list[Hook] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def by_key(self) -> dict[str, list[Hook]]:
        with self._lock:
            found: dict[str, list[Hook]] = {}
            for hook in self.hooks:
                found.setdefault(hook.key, []).append(hook)
            return found

    def take(self, raw: bytes, headers: Any) -> int:
        signed = verify(
            self.secret,
            headers.get(TIMESTAMP, ""),
            raw,
            headers.get(SIGNATURE, ""),
            now=time.time(),
            tolerance_s=300,
        )
        hook = Hook(headers.get(DELIVERY, ""), headers.get(EVENT, ""), json.loads(raw), signed)
        with self._lock:
            self.hooks.append(hook)
            copy = sum(1 for h in self.hooks if h.key == hook.key)
        self.on_request(hook)
        return self.answer(hook.key, copy)

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Serve until the block ends; the URL to POST webhooks to."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.take(raw, self.headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/linli/hooks"
        finally:
            server.shutdown()
            server.server_close()


@dataclass
class Mailbox:
    """What an SMTP server took: every message, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    @property
    def by_key(self) -> dict[str, list[EmailMessage]]:
        with self._lock:
            found: dict[str, list[EmailMessage]] = {}
            for message in self.messages:
                found.setdefault(str(message["Linli-Delivery"]), []).append(message)
            return found


@contextmanager
def smtp_server(mailbox: Mailbox, port: int | None = None) -> Iterator[int]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 (on ``port``, or a free one) putting what
    it takes in ``mailbox``; its port."""
    port = port or free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
