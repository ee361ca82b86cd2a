"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from cloud.api.routers import dead_letters, devices, facilities, gateways, tickets
from cloud.health import watch_silence
from cloud.ingest.worker import IngestWorker
from cloud.services import Services
from cloud.web.pages import make_router
from plumbing.backoff import Backoff

log = logging.getLogger(__name__)


def create_app(services: Services) -> FastAPI:
    """An app on ``services``; runs an ingest worker alongside when settings ask for it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        if services.settings.silence_check_s > 0:
            tasks.append(
                asyncio.create_task(
                    watch_silence(
                        services.health, services.sessions, services.settings.silence_check_s
                    ),
                    name="silence",
                )
            )
        if services.settings.ingest:
            worker = IngestWorker(
                services.writer,
                services.metrics,
                host=services.settings.mqtt_host,
                port=services.settings.mqtt_port,
                group=services.settings.ingest_group,
                client_id=services.settings.ingest_client_id,
                session_expiry_s=services.settings.ingest_session_expiry_s,
                backoff=Backoff(
                    services.settings.reconnect_min_s, services.settings.reconnect_max_s
                ),
            )
            app.state.ingest = worker
            tasks.append(asyncio.create_task(worker.run(), name="ingest"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="Linli cloud",
        version="0.1.0",
        description="Facility health and repair tickets for residential communities.",
        lifespan=lifespan,
    )
    app.state.services = services
    for module in (facilities, devices, tickets, gateways, dead_letters):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(make_router())

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, object]:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        worker = getattr(app.state, "ingest", None)
        return {
            "status": "ok",
            "ingest": "off" if worker is None else "on",
            "ingest_connected": bool(worker and worker.connected.is_set()),
        }

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
