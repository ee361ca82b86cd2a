"""The ingest worker: takes edge → cloud messages from the broker, one at a time, and lets
go of each only when it is dealt with.

For each message: :class:`~cloud.ingest.intake.Intake` validates and stores it in one
transaction; after the commit the worker publishes the batch's acknowledgement to its
gateway (``stored``, or ``duplicate`` for a batch sent again), and only then acknowledges
the MQTT message to the broker. So a worker that dies at any point loses nothing: the
broker delivers the message again, and the gateway sends the batch again until it hears.

Failures are of two kinds:

- the database's (down, locked, full: :func:`~cloud.ingest.failures.is_temporary`): the
  worker holds the message and tries it again with backoff, for as long as it takes,
  acknowledging nothing. Holding it stops the worker reading: with MQTT 5 Receive Maximum
  the broker keeps what comes meanwhile;
- the message's: one that breaks the protocol, or fails ``ingest_max_attempts`` times with
  another error, is kept whole as a dead letter, then acknowledged (``rejected`` to the
  gateway), so one poison batch never blocks a gateway.

Any other failure (even keeping a dead letter failed) ends the connection without
acknowledging; the supervisor restarts ingest, and the broker delivers the message again.
Several workers on several machines may share the subscription.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from cloud.config import CloudSettings
from cloud.ingest import transport
from cloud.ingest.failures import describe, is_temporary
from cloud.ingest.intake import Intake, Outcome
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
    ) -> None:
        self._intake = intake
        self._metrics = metrics
        self._endpoint = endpoint
        self._retry = retry or RetryPolicy()
        self._restart = restart or Backoff(0.5, 30.0)
        self.state = IngestState(metrics)

    @classmethod
    def from_settings(
        cls, settings: CloudSettings, intake: Intake, metrics: CloudMetrics
    ) -> IngestWorker:
        endpoint = transport.Endpoint(
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            client_id=settings.ingest_client_id,
            group=settings.ingest_group,
            session_expiry_s=settings.ingest_session_expiry_s,
            receive_maximum=settings.ingest_receive_maximum,
        )
        retry = RetryPolicy(
            first_s=settings.database_retry_min_s,
            max_s=settings.database_retry_max_s,
            max_attempts=settings.ingest_max_attempts,
        )
        restart = Backoff(settings.reconnect_min_s, settings.reconnect_max_s)
        return cls(intake, metrics, endpoint, retry=retry, restart=restart)

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
            async for message in link.messages():
                await self._settle(link, message)
                self._restart.reset()

    async def _settle(self, link: transport.IngestLink, message: transport.Message) -> Outcome:
        """Deal with one message: store (or dead-letter) it, tell its gateway, then let go
        of it at the broker."""
        outcome = await self._outcome(link, message)
        if outcome.ack is not None:
            await link.publish_ack(outcome.ack)
            self._metrics.acks.labels(result=outcome.ack.result).inc()
        link.ack(message)
        return outcome

    async def _outcome(self, link: transport.IngestLink, message: transport.Message) -> Outcome:
        topic, payload = message.topic, message.payload
        delays = Backoff(self._retry.first_s, self._retry.max_s)
        failures = 0
        last_error = ""
        while True:
            giving_up = failures >= self._retry.max_attempts
            try:
                if giving_up:
                    reason = f"failed {failures} times, last with {last_error}"
                    return await asyncio.to_thread(
                        self._intake.reject, topic, payload, reason, "error"
                    )
                return await asyncio.to_thread(self._intake.process, topic, payload)
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
