"""The ingest worker: takes edge → cloud messages from the broker and lets go of each only
when it is dealt with.

Messages are stored in groups, one transaction each (``pipeline``: reading, committing and
acknowledging overlap). After a group's commit the worker publishes each batch's
acknowledgement to its gateway (``stored``, or ``duplicate`` for a batch sent again), and
only then acknowledges the messages to the broker. So a worker that dies at any point loses
nothing: the broker delivers the messages again, and the gateway sends the batches again
until it hears.

Failures are of two kinds:

- the database's (down, locked, full: :func:`~cloud.ingest.failures.is_temporary`): the
  worker holds the group and tries it again with backoff, for as long as it takes,
  acknowledging nothing. Holding it stops the worker reading: with MQTT 5 Receive Maximum
  the broker keeps what comes meanwhile;
- the messages': a group that fails otherwise is taken apart, and its messages tried one by
  one; one that breaks the protocol, or fails ``ingest_max_attempts`` times with another
  error, is kept whole as a dead letter, then acknowledged (``rejected`` to the gateway),
  so one poison batch never blocks a gateway, nor the batches it arrived with.

Any other failure (even keeping a dead letter failed) ends the connection without
acknowledging; the supervisor restarts ingest, and the broker delivers the messages again.
Several workers on several machines may share the subscription.

While connected, a worker also sends the commands for devices that wait in the
``outbound_commands`` table (:mod:`cloud.ingest.commands`), every ``command_check_s``, at
least once, beside ingest: a failure there (the database's, or a publish) is logged and
tried again next time, and never stops ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from cloud.config import CloudSettings
from cloud.ingest import transport
from cloud.ingest.commands import Claim, CommandOutbox
from cloud.ingest.failures import describe, is_temporary
from cloud.ingest.intake import Incoming, Intake, Outcome
from cloud.ingest.pipeline import GroupPolicy, Pipeline, Received, in_thread
from cloud.ingest.supervisor import IngestState, supervise
from cloud.metrics import CloudMetrics
from plumbing.backoff import Backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How a message that failed is tried again."""

    first_s: float = 0.2
    max_s: float = 10.0
    max_attempts: int = 3
    """Tries of a message failing with errors that are not the database's."""


class IngestWorker:
    def __init__(
        self,
        intake: Intake,
        metrics: CloudMetrics,
        endpoint: transport.Endpoint,
        *,
        retry: RetryPolicy | None = None,
        restart: Backoff | None = None,
        group: GroupPolicy | None = None,
        commands: CommandOutbox | None = None,
        command_check_s: float = 1.0,
    ) -> None:
        """``commands``: the outbox whose commands this worker sends while connected, every
        ``command_check_s`` (None, or 0 s: it sends none)."""
        self._intake = intake
        self._group = group or GroupPolicy()
        self._metrics = metrics
        self._endpoint = endpoint
        self._retry = retry or RetryPolicy()
        self._restart = restart or Backoff(0.5, 30.0)
        self._commands = commands
        self._command_check_s = command_check_s
        self.state = IngestState(metrics)

    @classmethod
    def from_settings(
        cls,
        settings: CloudSettings,
        intake: Intake,
        metrics: CloudMetrics,
        sessions: sessionmaker[Session],
    ) -> IngestWorker:
        """A worker as the settings say; it sends the commands queued in ``sessions``'
        database (the one ``intake`` stores into)."""
        endpoint = transport.Endpoint(
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            client_id=settings.ingest_client_id,
            group=settings.ingest_group,
            session_expiry_s=settings.ingest_session_expiry_s,
            receive_maximum=settings.ingest_receive_maximum,
            access=settings.broker_access(),
        )
        retry = RetryPolicy(
            first_s=settings.database_retry_min_s,
            max_s=settings.database_retry_max_s,
            max_attempts=settings.ingest_max_attempts,
        )
        restart = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        group = GroupPolicy(
            max_batches=settings.ingest_group_max_batches,
            max_readings=settings.ingest_group_max_readings,
            wait_s=settings.ingest_group_wait_ms / 1000,
        )
        return cls(
            intake,
            metrics,
            endpoint,
            retry=retry,
            restart=restart,
            group=group,
            commands=CommandOutbox(sessions),
            command_check_s=settings.command_check_s,
        )

    @property
    def connected(self) -> asyncio.Event:
        """Set while consuming."""
        return self.state.consuming

    async def run(self) -> None:
        """Consume until cancelled; restarted with backoff after any failure."""
        await supervise(
            self._consume, state=self.state, backoff=self._restart, metrics=self._metrics
        )

    async def _consume(self) -> None:
        async with transport.connect(self._endpoint) as link:
            log.info(
                "ingest consuming from %s:%s as %s (group %s)",
                self._endpoint.host,
                self._endpoint.port,
                self._endpoint.client_id,
                self._endpoint.group,
            )
            self.state.up()
            pipeline = Pipeline(
                link, self._intake, self._metrics, self._group, self._outcomes, self._restart.reset
            )
            sending = None
            if self._commands is not None and self._command_check_s > 0:
                sending = asyncio.create_task(
                    self._sending_commands(link, self._commands), name="ingest-commands"
                )
            try:
                await pipeline.run()
            finally:
                if sending is not None:
                    sending.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sending

    async def _sending_commands(self, link: transport.IngestLink, outbox: CommandOutbox) -> None:
        """Send what waits in ``outbox`` now and every ``command_check_s``, until cancelled
        (when the connection ends). Whatever fails is logged and tried next time."""
        every = self._command_check_s
        while True:
            try:
                await self._send_commands(link, outbox)
            except transport.MqttError as exc:
                log.warning("ingest: commands not sent (%s); trying again in %g s", exc, every)
            except Exception as exc:
                if is_temporary(exc):
                    log.warning(
                        "ingest: the database cannot give the commands to send now (%s); "
                        "trying again in %g s",
                        describe(exc),
                        every,
                    )
                else:
                    log.exception("ingest: sending commands failed; trying again in %g s", every)
            await asyncio.sleep(every)

    async def _send_commands(self, link: transport.IngestLink, outbox: CommandOutbox) -> None:
        """Every command not sent yet, a round at a time: publish, and once the broker has
        them, mark them sent. A round that fails leaves its commands unsent (to be sent
        again, with the same ids: at least once)."""
        while True:
            claim = await _claim(outbox)
            if not claim.ids:
                return
            try:
                if claim.messages:
                    await link.publish_commands(claim.messages)
                    self._metrics.commands_sent.inc(len(claim.messages))
                    log.info("ingest: sent %d commands to gateways", len(claim.messages))
                await in_thread(claim.mark_sent)
            finally:
                await in_thread(claim.close)
            if not claim.full:
                return

    async def _outcomes(self, link: transport.IngestLink, group: list[Received]) -> list[Outcome]:
        """Store a group in one transaction, holding it while the database cannot take it;
        should it fail otherwise, its messages one by one."""
        if len(group) == 1:
            return [await self._outcome(link, group[0].incoming)]
        incoming = [received.incoming for received in group]
        delays = Backoff(self._retry.first_s, self._retry.max_s)
        while True:
            try:
                return await in_thread(self._intake.settle, incoming)
            except Exception as exc:
                if not is_temporary(exc):
                    log.warning(
                        "ingest: a group of %d messages failed (%s); taking them one by one",
                        len(group),
                        describe(exc),
                    )
                    self._metrics.ingest_group_splits.inc()
                    return [await self._outcome(link, one) for one in incoming]
                self._metrics.ingest_retries.labels(cause="database").inc()
                log.warning(
                    "ingest: the database cannot take %d messages now (%s); holding them "
                    "and trying again",
                    len(group),
                    describe(exc),
                )
            if not link.connected:
                raise transport.MqttError("connection lost while messages waited for a retry")
            await asyncio.sleep(delays.next())

    async def _outcome(self, link: transport.IngestLink, incoming: Incoming) -> Outcome:
        """Store one message, holding it while the database cannot take it; after
        ``max_attempts`` failures of another kind, keep it as a dead letter."""
        topic, payload = incoming.topic, incoming.payload
        delays = Backoff(self._retry.first_s, self._retry.max_s)
        failures = 0
        last_error = ""
        while True:
            giving_up = failures >= self._retry.max_attempts
            try:
                if giving_up:
                    reason = f"failed {failures} times, last with {last_error}"
                    return await in_thread(self._intake.reject, topic, payload, reason, "error")
                [outcome] = await in_thread(self._intake.settle, [incoming])
                return outcome
            except Exception as exc:
                if is_temporary(exc):
                    self._metrics.ingest_retries.labels(cause="database").inc()
                    log.warning(
                        "ingest: the database cannot take a message from %s now (%s); "
                        "holding it and trying again",
                        topic,
                        describe(exc),
                    )
                elif giving_up:
                    raise  # not even a dead letter could be kept: restart, keep the message
                else:
                    failures += 1
                    last_error = describe(exc)
                    self._metrics.ingest_retries.labels(cause="error").inc()
                    log.exception("ingest: a message from %s failed (try %d)", topic, failures)
                    if failures >= self._retry.max_attempts:
                        continue  # keep it as a dead letter now
            if not link.connected:
                raise transport.MqttError("connection lost while a message waited for a retry")
            await asyncio.sleep(delays.next())


async def _claim(outbox: CommandOutbox) -> Claim:
    """:meth:`CommandOutbox.claim` in a worker thread; should the caller be cancelled
    meanwhile, the claim is still waited for, and closed (its rows, unlocked, stay unsent)."""
    call = asyncio.ensure_future(asyncio.to_thread(outbox.claim))
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await asyncio.to_thread((await call).close)
        raise
