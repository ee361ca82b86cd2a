"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from functools import partial
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cloud.api.problems import PROBLEM_ANSWERS, install_problems
from cloud.api.routers import (
    auth,
    calendars,
    channels,
    communities,
    dead_letters,
    deliveries,
    devices,
    events,
    exports,
    facilities,
    figures,
    gateways,
    maintenance,
    people,
    telemetry,
    tickets,
    unknown_gateways,
    webhooks,
    zones,
)
from cloud.health import watch_silence
from cloud.ingest.failures import describe
from cloud.ingest.worker import IngestWorker
from cloud.notify.notifier import Notifier, watch_notices
from cloud.repair.rounds import watch_repairs
from cloud.services import Services
from cloud.state_metrics import StateMetrics
from cloud.telemetry.upkeep import keep_telemetry
from cloud.web import maintainer
from cloud.web.dashboard import STATIC
from cloud.web.i18n import Languages
from cloud.web.pages import make_router
from cloud.web.render import Renderer

log = logging.getLogger(__name__)


def create_app(services: Services, *, api: bool = True) -> FastAPI:
    """An app on ``services``; runs an ingest worker alongside when settings ask for it.

    Without ``api`` (an ingest worker of its own, ``linli cloud ingest``) it serves only
    what operators and orchestrators ask of a process: ``/healthz`` and ``/metrics``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        settings = services.settings
        every: list[tuple[str, float, Callable[[float], Coroutine[Any, Any, None]]]] = [
            (
                "silence",
                settings.silence_check_s,
                partial(watch_silence, services.health, services.sessions),
            ),
            ("telemetry", settings.rollup_check_s, partial(keep_telemetry, services.upkeep)),
            (
                "repairs",
                settings.repair_check_s,
                partial(watch_repairs, services.rounds, services.sessions),
            ),
        ]
        if settings.notify_check_s > 0:  # its channels are made here, closed when it ends
            notifier = Notifier.from_settings(settings, services.sessions, services.metrics)
            every.append(("notices", settings.notify_check_s, partial(watch_notices, notifier)))
        for name, every_s, job in every:  # what recurs; 0 turns it off
            if every_s > 0:
                tasks.append(asyncio.create_task(job(every_s), name=name))
        if services.settings.ingest:
            worker = IngestWorker.from_settings(
                services.settings, services.intake, services.metrics, services.sessions
            )
            task = asyncio.create_task(worker.run(), name="ingest")
            app.state.ingest = (worker, task)
            tasks.append(task)
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
    install_problems(app)
    if api:
        services.metrics.serve(StateMetrics(services.sessions))
        for module in (
            auth,
            communities,
            calendars,
            zones,
            facilities,
            devices,
            telemetry,
            tickets,
            maintenance,
            figures,
            exports,
            gateways,
            unknown_gateways,
            people,
            channels,
            webhooks,
            deliveries,
            events,
            dead_letters,
        ):
            app.include_router(module.router, prefix="/api/v1", responses=PROBLEM_ANSWERS)
        renderer = Renderer(Languages(), services.catalogue)
        app.include_router(make_router(renderer))
        app.include_router(maintainer.make_router(renderer))
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """200 while the database answers and, where this process runs ingest, ingest is
        consuming; else 503 with the reason."""
        ingest: tuple[IngestWorker, asyncio.Task[None]] | None = getattr(app.state, "ingest", None)
        body: dict[str, object] = {
            "status": "ok",
            "ingest": "off" if ingest is None else "on",
            "ingest_connected": ingest is not None and ingest[0].state.is_consuming,
        }
        problem = _database_problem(services) or (_ingest_problem(*ingest) if ingest else None)
        if problem is None:
            return JSONResponse(body)
        return JSONResponse({**body, "status": "unavailable", "reason": problem}, status_code=503)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _database_problem(services: Services) -> str | None:
    try:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"database: {describe(exc)}"
    return None


def _ingest_problem(worker: IngestWorker, task: asyncio.Task[None]) -> str | None:
    if task.done():
        return "ingest is not running: its task ended"
    if not worker.state.is_consuming:
        return f"ingest is not consuming: {worker.state.reason}"
    return None
