"""FastAPI's native OpenTelemetry is off unless ``CALLHOPPER_OPENTELEMETRY`` turns it on: off,
a request does not even look for configured providers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from opentelemetry import trace

from callhopper.api.app import create_app
from callhopper.clock import FrozenClock
from callhopper.settings import Settings
from callhopper.store.db import Database


@pytest.mark.parametrize("enabled", [False, True])
def test_telemetry_looks_for_providers_only_when_enabled(
    enabled: bool, db: Database, db_url: str, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks: list[object] = []
    provider = trace.NoOpTracerProvider()  # a configured provider, as far as FastAPI can tell

    def get_tracer_provider() -> trace.TracerProvider:
        looks.append(provider)
        return provider

    monkeypatch.setattr(trace, "get_tracer_provider", get_tracer_provider)
    settings = Settings(database_url=db_url, import_workers=0, opentelemetry=enabled)
    with TestClient(create_app(settings, db, clock)) as client:
        looks.clear()  # start-up
        assert client.get("/healthz").status_code == 200
    assert bool(looks) is enabled
