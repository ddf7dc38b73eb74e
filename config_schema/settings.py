"""Process settings: where clew stores data and how it listens, read once from the environment.

These are the knobs a process needs before it can reach the database (so they cannot live in the database
layers). Everything a user or a run may change is a :class:`config_schema.definitions.Setting` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEW_", extra="ignore")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "CLEW_DATABASE_URL")
    )
    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("clew")))
    qdrant_url: str | None = Field(default=None, validation_alias=AliasChoices("QDRANT_URL", "CLEW_QDRANT_URL"))
    config_file: Path | None = None  # system-layer TOML file

    # identity
    auth: Literal["none", "api_key", "jwt"] = "none"
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    admin_users: list[str] = Field(default_factory=lambda: ["local"])
    # a JWKS endpoint of an external identity provider (RS256/ES256 keys picked by the token's `kid`), so the
    # provider can rotate its keys without clew being reconfigured
    jwt_jwks_url: str | None = None
    jwt_jwks_cooldown_seconds: float = 30.0  # least time between refetches for unknown key ids (PyJWKClient)
    # clew's own accounts (api/accounts.py): access and refresh tokens it signs with `jwt_secret` (or a secret
    # kept in the data directory when none is set)
    auth_registration: bool = True  # POST /api/v1/auth/register open to anyone (the first user is admin)
    access_token_minutes: float = 15.0
    refresh_token_days: float = 30.0
    login_attempts_per_account: str = "10/15minutes"  # the `limits` library's notation
    login_attempts_per_address: str = "50/15minutes"

    # browser safety (api/security.py): origins granted CORS besides clew's own (same-origin) UI; the Host
    # names accepted with auth on (empty: any); with auth off only loopback names are accepted
    cors_origins: list[str] = Field(default_factory=list)
    allowed_hosts: list[str] = Field(default_factory=list)

    # per-user limits (api/rate_limits.py), in the `limits` library's notation ("10/hour"); the counters live in
    # Postgres, or in Redis when `rate_limit_storage` is a redis:// URL shared by every process
    rate_limits_enabled: bool = True
    rate_limit_storage: str | None = None
    rate_limit_research: str = "10/hour"  # research starts: seed 000 §9.2
    rate_limit_runs: str = "600/hour"
    rate_limit_uploads: str = "120/hour"
    rate_limit_other: str = "3000/minute"
    max_queued_runs: int = 100  # pending runs per user

    # observability (engine/metrics.py): the port `clew worker` serves /metrics on (0: none)
    metrics_port: int = 0
    metrics_public: bool = False  # with auth on, /metrics needs an admin unless this is set
    # OpenTelemetry traces (engine/tracing.py), off by default; the OTLP exporter reads the standard
    # OTEL_EXPORTER_OTLP_* variables (endpoint, headers), the SDK OTEL_TRACES_SAMPLER and OTEL_BSP_*
    otel_enabled: bool = False
    otel_service_name: str | None = None  # else OTEL_SERVICE_NAME, else "clew"
    otel_exporter: Literal["otlp", "console"] = "otlp"  # otlp: OTLP over HTTP/protobuf
    otel_db_spans: bool = True  # a span per database call inside a request or run (psycopg instrumentation)
    otel_node_spans: bool = True  # a span per LangGraph node task (LangChain callbacks)

    # run engine
    # concurrent run slots per process: 10, as langgraph dev's jobs per worker. A run mostly waits (on its
    # checkpoint commits, on models), so with 4 slots the CPU idled while runs queued: 10 served more runs/s in
    # 5 of 6 paired rounds on 2 cores (median 47 against 28; docs/benchmarks.md, issue 18)
    workers: int = 10
    # the langgraph.json graphs are loaded from (`clew serve --config` sets it; none: no graphs)
    graphs_config: Path | None = None
    lease_seconds: float = 6.0
    max_attempts: int = 3
    run_timeout_seconds: float = 3600.0
    shutdown_grace_seconds: float = 20.0
    event_retention_days: float = 7.0
    # retention (engine/retention.py): checkpoints of threads idle this long are pruned to the latest one;
    # the job runs every `retention_interval_seconds` in one process at a time (0: never in the background)
    checkpoint_retention_days: float = 30.0
    content_session_retention_hours: float = 24.0  # expired content sessions are deleted this long after expiry
    retention_interval_seconds: float = 3600.0
    # benchmarks only: serialise every checkpoint call of the process behind one lock, as the stock
    # AsyncPostgresSaver does (langgraph issue #7259), to measure what removing that lock gained
    checkpointer_lock: bool = False

    # database pool
    pool_min_size: int = 2
    pool_max_size: int = 20

    # knowledge base: upload size limit, and the size from which a file is ingested in the background
    knowledge_max_upload_bytes: int = 50 * 1024 * 1024
    knowledge_background_bytes: int = 2 * 1024 * 1024

    # largest request body (bytes) the API reads, multipart uploads excepted (see api/limits.py): 413 above
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"

    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "pg"

    @property
    def qdrant_dir(self) -> Path:
        return self.data_dir / "qdrant"
