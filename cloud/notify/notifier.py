"""The notifier: every ``notify_check_s`` it fans the new notices out into deliveries
(:mod:`cloud.notify.fanout`), then takes the deliveries due and sends them by their channels,
a few at once, and settles the batch's attempts in one transaction once they have all ended
(:mod:`cloud.notify.deliveries`): one commit per batch, not per delivery, so a burst of
tickets costs ingest's database little.

Delivery is at least once: a delivery is settled only after its receiver took it, so one
whose notifier died in between is sent again — with the same idempotency key, by which its
receiver tells the repeat. A channel this process has no means for (e-mail without an SMTP
server here) fails its deliveries like an unreachable receiver.

Once an hour it forgets deliveries settled (sent or dead-lettered) longer ago than
``notify_keep_days``, and the notices left with none (:meth:`Deliveries.prune`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from cloud.config import CloudSettings
from cloud.ingest import transport
from cloud.metrics import CloudMetrics
from cloud.notify.deliveries import Deliveries, Outcome, RetryPolicy
from cloud.notify.fanout import Fanout, Routes
from cloud.notify.mail import EmailSender, SmtpServer
from cloud.notify.push import PushSender
from cloud.notify.rules import Channel
from cloud.notify.senders import DeliveryFailed, Outgoing, Sender
from cloud.notify.webhooks import WebhookSender

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class NoticeRound:
    fanned_out: int = 0
    """notices fanned out into deliveries"""
    sent: int = 0
    failed: int = 0
    dead: int = 0
    pruned: tuple[int, int] = (0, 0)
    """deliveries and notices forgotten, settled longer ago than the notifier keeps them"""


class Notifier:
    def __init__(
        self,
        fanout: Fanout,
        deliveries: Deliveries,
        senders: Mapping[Channel, Sender],
        metrics: CloudMetrics,
        *,
        at_once: int = 10,
        keep: timedelta = timedelta(days=30),
        prune_every: timedelta = timedelta(hours=1),
        clock: Clock = utcnow,
    ) -> None:
        self.fanout = fanout
        self.deliveries = deliveries
        self._senders = dict(senders)
        self._metrics = metrics
        self._at_once = asyncio.Semaphore(at_once)
        self._keep = keep
        self._prune_every = prune_every
        self._clock = clock
        self._pruned_at: datetime | None = None

    @classmethod
    def from_settings(
        cls,
        settings: CloudSettings,
        sessions: sessionmaker[Session],
        metrics: CloudMetrics,
        clock: Clock = utcnow,
    ) -> Notifier:
        """A notifier with the channels the settings give: webhooks always, e-mail with an
        SMTP server, MQTT push when on."""
        senders: dict[Channel, Sender] = {
            Channel.WEBHOOK: WebhookSender(
                httpx.AsyncClient(timeout=settings.notify_timeout_s, follow_redirects=False)
            )
        }
        if settings.smtp_host:
            password = settings.smtp_password
            senders[Channel.EMAIL] = EmailSender(
                SmtpServer(
                    settings.smtp_host,
                    settings.smtp_port,
                    settings.smtp_from,
                    settings.smtp_username,
                    password.get_secret_value() if password else None,
                    settings.smtp_starttls,
                    settings.notify_timeout_s,
                )
            )
        if settings.notify_mqtt:
            client_id = f"linli-notify-{socket.gethostname()}-{os.getpid()}"
            senders[Channel.MQTT] = PushSender(
                transport.Publisher(
                    settings.mqtt_host,
                    settings.mqtt_port,
                    client_id,
                    timeout_s=settings.notify_timeout_s,
                    access=settings.broker_access(),
                )
            )
        routes = Routes(email=Channel.EMAIL in senders, mqtt=Channel.MQTT in senders)
        policy = RetryPolicy(
            first_s=settings.notify_retry_first_s,
            max_s=settings.notify_retry_max_s,
            max_attempts=settings.notify_max_attempts,
            lease_s=settings.notify_lease_s,
        )
        return cls(
            Fanout(sessions, routes, clock),
            Deliveries(sessions, policy, clock),
            senders,
            metrics,
            keep=timedelta(days=settings.notify_keep_days),
            clock=clock,
        )

    async def run_once(self) -> NoticeRound:
        """Fan out what is new, then send every delivery due, a batch at a time; once an
        hour, forget what was settled longer ago than ``keep``."""
        result = NoticeRound()
        now = self._clock()
        if self._pruned_at is None or now - self._pruned_at >= self._prune_every:
            before = now - self._keep
            result.pruned = await asyncio.to_thread(self.deliveries.prune, before)
            self._pruned_at = now
        while True:
            fanned = await asyncio.to_thread(self.fanout.run)
            result.fanned_out += fanned
            if fanned < self.fanout.batch:
                break
        while True:
            taken = await asyncio.to_thread(self.deliveries.take)
            errors = await asyncio.gather(*(self._attempt_one(o) for o in taken))
            attempts = list(zip(taken, errors, strict=True))
            outcomes = await asyncio.to_thread(self.deliveries.settle_all, attempts)
            for (outgoing, error), outcome in zip(attempts, outcomes, strict=True):
                self._count(outgoing, error, outcome)
                if outcome is Outcome.SENT:
                    result.sent += 1
                elif outcome is Outcome.DEAD:
                    result.dead += 1
                else:
                    result.failed += 1
            if len(taken) < self.deliveries.batch:
                return result

    async def _attempt_one(self, outgoing: Outgoing) -> str | None:
        async with self._at_once:
            return await self._attempt(outgoing)

    def _count(self, outgoing: Outgoing, error: str | None, outcome: Outcome) -> None:
        channel = outgoing.channel.value
        if outcome is Outcome.SENT:
            self._metrics.notifications_sent.labels(channel=channel).inc()
        elif outcome is Outcome.DEAD:
            self._metrics.notifications_dead.labels(channel=channel).inc()
            log.warning(
                "notification %s dead-lettered after %d attempts: %s",
                outgoing.key,
                outgoing.attempt,
                error,
            )
        else:
            self._metrics.notifications_failed.labels(channel=channel).inc()
            log.info(
                "notification %s: attempt %d failed: %s", outgoing.key, outgoing.attempt, error
            )

    async def _attempt(self, outgoing: Outgoing) -> str | None:
        sender = self._senders.get(outgoing.channel)
        if sender is None:
            return f"this cloud process has no {outgoing.channel.value} channel set up"
        try:
            await sender.send(outgoing)
        except DeliveryFailed as exc:
            return str(exc) or type(exc).__name__
        except Exception as exc:  # a bug in a channel must not stop the others
            log.exception("notification %s: its channel failed", outgoing.key)
            return f"{type(exc).__name__}: {exc}"
        return None

    async def close(self) -> None:
        for sender in self._senders.values():
            with contextlib.suppress(Exception):
                await sender.close()


async def watch_notices(notifier: Notifier, every_s: float) -> None:
    """A notifier round every ``every_s`` seconds until cancelled; its channels closed then."""
    try:
        while True:
            await asyncio.sleep(every_s)
            try:
                result = await notifier.run_once()
            except Exception:  # the database, or a bug: log it, the rounds go on
                log.exception("notifier round failed; trying again in %ss", every_s)
                continue
            if result.fanned_out or result.dead or any(result.pruned):
                log.info("notifier round: %s", result)
    finally:
        await notifier.close()
