"""Keeps ingest running: restarts it with backoff after any error, and says whether it is
consuming (what ``/healthz`` reports)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from cloud.ingest.failures import describe
from cloud.metrics import CloudMetrics
from plumbing.backoff import Backoff
from plumbing.mqtt import MqttError

log = logging.getLogger(__name__)


class IngestState:
    """Whether ingest is consuming now, and if not, why."""

    def __init__(self, metrics: CloudMetrics) -> None:
        self._metrics = metrics
        self.consuming = asyncio.Event()
        """Set while connected and subscribed."""
        self.reason = "starting"
        """Why ingest is not consuming (meaningful while it is not)."""
        self.restarts = 0
        """Restarts after an error that was not the broker's."""

    @property
    def is_consuming(self) -> bool:
        return self.consuming.is_set()

    def up(self) -> None:
        self.reason = ""
        self.consuming.set()
        self._metrics.ingest_connected.set(1)

    def down(self, reason: str) -> None:
        self.reason = reason
        self.consuming.clear()
        self._metrics.ingest_connected.set(0)


async def supervise(
    body: Callable[[], Awaitable[None]],
    *,
    state: IngestState,
    backoff: Backoff,
    metrics: CloudMetrics,
) -> None:
    """Run ``body`` again and again, until cancelled, waiting ``backoff`` between runs.

    A broker that is away is logged as a warning; any other error with its traceback, and
    counted as a restart. ``body`` calls ``backoff.reset()`` once it makes progress.
    """
    while True:
        try:
            await body()
            reason = "the connection ended"
        except asyncio.CancelledError:
            state.down("stopped")
            raise
        except MqttError as exc:
            reason = f"cloud broker: {exc}"
            log.warning("ingest: %s; connecting again", reason)
        except Exception as exc:
            reason = f"ingest failed: {describe(exc)}"
            log.exception("ingest failed; restarting it")
            state.restarts += 1
            metrics.ingest_restarts.inc()
        delay = backoff.next()
        state.down(f"{reason} (again in {delay:.1f} s)")
        await asyncio.sleep(delay)
