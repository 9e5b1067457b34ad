"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import Depends, FastAPI
from fastapi.telemetry import TelemetryConfig

from callhopper import __version__
from callhopper.api import errors
from callhopper.api.admission import Admission, AdmissionPolicy
from callhopper.api.deps import SESSION_COOKIE, no_nul_in_url
from callhopper.api.routers import (
    agent,
    audit,
    auth,
    campaigns,
    contact_lists,
    dnc,
    eligibility,
    hopper,
    inbound,
    leads,
    leads_admin,
    ownership,
    queues,
    users,
    workflows,
    wrapup,
)
from callhopper.clock import SystemClock
from callhopper.ports import Clock
from callhopper.services import build
from callhopper.settings import Settings
from callhopper.store.db import Database
from callhopper.web import app as web
from callhopper.web.csrf import CrossSiteGuard

API_PREFIX = "/api/v1"

#: Checks of every request's path and query before its endpoint's own dependencies.
_URL_CHECKS = [Depends(no_nul_in_url)]

_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def admission_policy(settings: Settings) -> AdmissionPolicy:
    """The admission control of the agents' endpoints (:mod:`callhopper.api.admission`)."""
    limit = settings.admission_limit
    return AdmissionPolicy(
        limit=settings.db_pool_size if limit is None else limit,
        queue=settings.admission_queue,
        wait_s=settings.admission_wait_ms / 1000,
        retry_after_s=settings.admission_retry_after_s,
        retry_after_max_s=settings.admission_retry_after_max_s,
        prefix=f"{API_PREFIX}/agent/",
    )


def create_app(
    settings: Settings,
    db: Database | None = None,
    clock: Clock | None = None,
    *,
    background: bool = False,
) -> FastAPI:
    """Build the application around one database; the caller owns the schema check.

    With ``background`` the process also runs the background jobs (hopper loads, pushes
    and their timers) for as long as the application runs; tests drive them by hand.
    """
    database = (
        db
        if db is not None
        else Database(settings.database_url, prepare_threshold=settings.db_prepare_threshold)
    )
    time = clock if clock is not None else SystemClock()
    services = build(settings, database, time)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Handlers run in worker threads, one connection each: no more threads than the pool
        # keeps connections (fewer threads also contend less for the interpreter).
        to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size
        services.bus.start()
        threads = services.start_jobs() if background else []
        try:
            yield
        finally:
            services.stop_jobs(threads)
            services.bus.stop()
            services.close()

    app = FastAPI(
        title="callhopper",
        version=__version__,
        summary="Outbound campaign engine: which record each agent works next.",
        # /docs is served by callhopper.web with the vendored Swagger UI (no CDN).
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        # Off, FastAPI still looks for configured providers on every request (4 % of a
        # server's CPU under load, measured in bench/RESULTS.md).
        telemetry=None if settings.opentelemetry else _NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.clock = time
    app.state.services = services
    app.state.bus = services.bus
    app.state.hopper_loader = services.loader
    app.state.dispenser = services.dispenser
    app.state.pusher = services.pusher
    app.state.webhooks = services.webhooks
    errors.install(app)
    errors.document(app)
    # FastAPI tries the routers in this order: the agents' endpoints, called most, come first.
    # Each is included in the app itself: under a router of its own, FastAPI would go through
    # every route of every router on each request to see whether one changed.
    for module in (
        agent,
        auth,
        users,
        queues,
        contact_lists,
        dnc,
        ownership,
        wrapup,
        campaigns,
        hopper,
        eligibility,
        leads,
        leads_admin,
        inbound,
        workflows,
        audit,
    ):
        app.include_router(module.router, prefix=API_PREFIX, dependencies=_URL_CHECKS)

    web.install(app)
    app.add_middleware(CrossSiteGuard, cookie=SESSION_COOKIE)
    # Added last, so run first: a request refused for capacity costs no other middleware.
    app.add_middleware(Admission, policy=admission_policy(settings))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        # On the event loop: it waits behind no request for a worker thread, so a busy
        # process still answers its health check (and its load balancer keeps it).
        return {"status": "ok"}

    return app
