"""Runtime settings: one place, every value overridable by ``CALLHOPPER_*`` env vars."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from callhopper.domain.calls import DEFAULT_AGENT_SIP_DOMAIN
from callhopper.domain.phones import check_region

DEFAULT_DATABASE_URL = "sqlite:///./callhopper.db"


class Settings(BaseSettings):
    """callhopper settings. Each field ``x`` reads ``CALLHOPPER_X`` from the environment."""

    model_config = SettingsConfigDict(env_prefix="CALLHOPPER_", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: a SQLite file by default, or postgresql+psycopg://…",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    default_region: str = Field(
        "US", description="ISO 3166 region used to read phone numbers written without +country."
    )
    session_ttl_hours: int = Field(12, ge=1, description="Lifetime of a login session cookie.")
    cookie_secure: bool = Field(False, description="Mark the session cookie Secure (HTTPS only).")
    sign_in_max_failures: int = Field(
        10,
        ge=1,
        description="Failed sign-ins allowed per account, and per client address, within "
        "sign_in_window_s; the next ones are refused (429) until the oldest leaves the window.",
    )
    sign_in_window_s: int = Field(
        300, ge=1, description="The window, in seconds, over which failed sign-ins count."
    )
    import_workers: int = Field(
        default_factory=lambda: min(os.cpu_count() or 1, 4),
        ge=0,
        description="Processes that normalise rows during large imports (0 or 1: in-process).",
    )
    import_batch_rows: int = Field(5000, ge=100, description="Rows per import batch.")
    sqlite_busy_timeout_ms: int = Field(30000, ge=0)
    db_pool_size: int = Field(
        20,
        ge=1,
        le=1000,
        description="Requests a server process handles at once, each on a database connection "
        "the process keeps open (its background jobs keep one more each).",
    )
    db_prepare_threshold: int | None = Field(
        2,
        ge=0,
        description="PostgreSQL: runs of one statement on a connection before psycopg prepares "
        "it on the server ('off': never, for a connection pooler that cannot keep them).",
    )
    admission_limit: int | None = Field(
        None,
        ge=0,
        description="Agent requests (under /api/v1/agent/) a server process runs at once; "
        "more wait their turn (unset: db_pool_size; 0: no limit).",
    )
    admission_queue: int = Field(
        1000, ge=0, description="Agent requests that may wait for a slot; more get 503 at once."
    )
    admission_wait_ms: int = Field(
        250,
        ge=0,
        le=60_000,
        description="The longest wait for a slot an agent request is queued for: one whose "
        "expected wait is longer gets 503 at once, one that waited this long in vain too.",
    )
    admission_retry_after_s: int = Field(
        1,
        ge=1,
        le=3600,
        description="The shortest Retry-After of a 503 for capacity, in seconds.",
    )
    admission_retry_after_max_s: int = Field(
        10,
        ge=1,
        le=3600,
        description="The longest Retry-After of a 503 for capacity, in seconds (refused "
        "clients are spread up to it as the overload grows).",
    )
    keep_alive_s: int = Field(
        75,
        ge=1,
        le=3600,
        description="How long a server process keeps an idle HTTP connection open, in seconds; "
        "longer than its clients' and proxies' own idle timeouts.",
    )
    access_log: bool = Field(
        False,
        description="serve logs a line for every HTTP request it answers (off: none; a proxy "
        "in front usually logs them anyway).",
    )
    opentelemetry: bool = Field(
        False,
        description="FastAPI's OpenTelemetry traces, metrics and logs of each request, through "
        "the globally configured providers (off: no per-request telemetry work at all).",
    )
    dnc_service_url: str | None = Field(
        None, description="Pre-dial validation service (unset: the internal DNC lists only)."
    )
    dnc_service_timeout_s: float = Field(
        2.0,
        gt=0,
        description="How long a pre-dial validation request may take before it counts as "
        "failed (a failed batch is asked again number by number: at most about twice this).",
    )
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="Attempts before a workflow webhook is marked failed."
    )
    webhook_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Limit of each phase of a webhook POST (seconds)."
    )
    webhook_poll_s: float = Field(
        5.0, gt=0, description="Seconds between the webhook sender's looks for due messages."
    )
    softphone_ws_url: str = Field(
        "",
        description="The SIP-over-WebSocket address of Kamailio (`wss://…`) that the "
        "workspace's browser phone registers to (empty: the workspace has no phone).",
    )
    sip_domain: str = Field(
        DEFAULT_AGENT_SIP_DOMAIN,
        description="The SIP domain agents' phones register in, as `sip:<user_id>@<domain>` "
        "(the same variable `callhopper telephony` reads).",
    )
    sip_agent_password: str = Field(
        "",
        description="The password agents' phones register with (the same variable "
        "`callhopper telephony` reads; empty: none). The workspace gives it to the browser phone.",
    )
    run_dialer: bool = Field(
        True,
        description="The process runs the dialing engine of progressive and predictive "
        "campaigns (`serve`, `loader`); turn off when `callhopper dialer` processes run it.",
    )
    dialer_lease_s: float = Field(
        10.0,
        ge=1.0,
        le=300.0,
        description="How long a process's lease on pacing a campaign lasts unless renewed "
        "(renewed three times in that time): another process takes a campaign over this "
        "long after its pacer died.",
    )
    telephony: Literal["simulator", "sip"] = Field(
        "simulator",
        description="What the dialing engine dials through: the built-in simulator, or the "
        "SIP adapter (the `sip` extra, configured by the CALLHOPPER_SIP_* variables).",
    )
    simulator_person_share: float = Field(
        0.15,
        ge=0.0,
        le=0.6,
        description="The built-in telephony simulator the engine dials: share of calls a "
        "person answers.",
    )
    simulator_speed: float = Field(
        1.0,
        gt=0.0,
        le=100.0,
        description="The simulator's calls go this many times faster than real time.",
    )
    run_workers: bool = Field(
        True,
        description="`serve` also runs the background jobs (hopper loads, …); turn off when "
        "`callhopper loader` processes run them instead.",
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        # Accept the plain libpq scheme and use psycopg 3, the driver we ship.
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("db_prepare_threshold", mode="before")
    @classmethod
    def _prepare_off(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("off", "none", ""):
            return None
        return value

    @field_validator("default_region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        return check_region(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
