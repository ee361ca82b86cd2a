"""E-mail over SMTP (the standard library's client, in a worker thread): a notice to a
person's address, plain text, with the idempotency key as its ``Message-ID`` (``<event
id>.email.person-<id>@<the sender's domain>``) and in a ``Linli-Delivery`` header, so a mail
system or a person's client can tell a repeat."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from cloud.notify.bodies import as_text
from cloud.notify.senders import DeliveryFailed, Outgoing


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    sender: str
    """the From address"""
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0


def message_id(key: str, sender: str) -> str:
    """The ``Message-ID`` of the delivery with ``key``: the same on every attempt."""
    domain = sender.rpartition("@")[2] or "linli"
    return f"<{key.replace(':', '.')}@{domain}>"


def message(outgoing: Outgoing, sender: str, now: datetime) -> EmailMessage:
    subject, text = as_text(outgoing.body)
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = outgoing.address
    mail["Subject"] = subject
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id(outgoing.key, sender)
    mail["Linli-Delivery"] = outgoing.key
    mail["Linli-Event"] = outgoing.kind
    mail.set_content(text)
    return mail


class EmailSender:
    """Sends each delivery in a connection of its own (notices are few; a pooled connection
    would only add a way to fail)."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def send(self, outgoing: Outgoing) -> None:
        mail = message(outgoing, self._server.sender, datetime.now().astimezone())
        await asyncio.to_thread(self._send, mail)

    def _send(self, mail: EmailMessage) -> None:
        server = self._server
        try:
            with smtplib.SMTP(server.host, server.port, timeout=server.timeout_s) as smtp:
                if server.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if server.username:
                    smtp.login(server.username, server.password or "")
                smtp.send_message(mail)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP {server.host}:{server.port}: {exc}") from None

    async def close(self) -> None:
        return None
