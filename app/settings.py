"""Every knob Hearth has, read from `HEARTH_*` environment variables or a `.env` file.

The README's configuration table documents each field; keep the two in step.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Standard Webhooks' suggested schedule, in seconds: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 14 h, 20 h, 24 h — about three days of retries in all.
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


# Content deliveries: 10 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h — about 21 hours.
DEFAULT_DELIVERY_RETRIES = (10, 60, 300, 1800, 7200, 21600, 43200)


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


PublicURL = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HEARTH_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite+aiosqlite:///./hearth.db"
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    admin_token: SecretStr | None = None
    outbound_allowed_hosts: Annotated[list[str], NoDecode] = []
    max_body_bytes: int = Field(1_048_576, ge=1024)
    # Asset uploads: their own size limit; bytes in the database unless a directory is set
    # (shared by every API replica, e.g. a mounted volume).
    max_upload_bytes: int = Field(10 * 1_048_576, ge=1024)
    asset_dir: str | None = None
    # Where clients reach Hearth (e.g. https://hearth.example.com), for absolute URLs in
    # what Hearth hands out (asset URLs); unset: paths relative to the API's own address.
    public_url: (
        Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")] | None
    ) = None
    cors_origins: Annotated[list[str], NoDecode] = []
    # Proxies whose X-Forwarded-For is believed (uvicorn's forwarded_allow_ips): the client
    # address feeds per-IP rate limits. `*` only when nothing can reach Hearth directly.
    trusted_proxies: Annotated[list[str], NoDecode] = ["127.0.0.1"]
    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Jobs
    queue_name: str = "hearth:queue"
    job_concurrency: int = Field(8, ge=1, le=256)
    sweep_interval_seconds: int = Field(10, ge=1, le=60)
    lease_seconds: float = Field(60, gt=0)
    worker_metrics_port: int | None = Field(None, ge=1, le=65535)

    # Outbound webhooks
    webhook_timeout_seconds: float = Field(15, gt=0, le=60)
    webhook_retry_schedule: Annotated[list[float], NoDecode] = list(DEFAULT_RETRY_SCHEDULE)
    webhook_disable_after_seconds: float = Field(5 * 24 * 3600, gt=0)

    # Content delivery to channels: the first retry within a minute, then growing to hours.
    delivery_retry_schedule: Annotated[list[float], NoDecode] = list(DEFAULT_DELIVERY_RETRIES)
    # Due rows one delivery job claims: a fan-out costs a transaction per batch, not per row.
    # A batch costs about 12 ms of the worker's CPU whatever its size (two transactions, a
    # dozen statements): 120 µs of a delivery's ~670 at 100 rows, 50 of ~590 at 250. Sends
    # not yet recorded are bounded by time (recorded every second), not by this size.
    delivery_batch: int = Field(250, ge=1, le=1000)
    # Content sends in flight per process. Few connections at once send faster than many
    # (an HTTP client's pool does work per open connection on every request).
    delivery_concurrency: int = Field(16, ge=1, le=100)
    # How often an arq worker looks for jobs that fell due (a scheduled post's precision).
    worker_poll_seconds: float = Field(0.1, gt=0, le=5)

    # Launcher feeds: answers cached per process up to this many bytes (0: no cache); how
    # often a replica checks a feed's version (a change shows within this time); what
    # players' launchers and CDNs may cache.
    feed_cache_bytes: int = Field(64 * 1_048_576, ge=0)
    feed_check_seconds: float = Field(1.0, gt=0, le=60)
    feed_max_age: int = Field(60, ge=0, le=86_400)
    feed_stale_while_revalidate: int = Field(600, ge=0, le=86_400)
    rate_limit_feed_events: str = "60/minute"

    # Automod's toxicity rules: a model server of your own (POST {"text"} answered
    # {"score": 0..1, "model"?, "version"?}), else the model shipped with Hearth. A server
    # slower than the timeout is skipped for that post (and recorded so), never waited on.
    toxicity_url: str | None = None
    toxicity_timeout_seconds: float = Field(1.0, gt=0, le=10)

    # GraphQL subscriptions (graphql-transport-ws at /graphql): live operations per socket,
    # and sockets per key (or member token) in each process.
    graphql_subscriptions_per_socket: int = Field(10, ge=1, le=100)
    graphql_sockets_per_key: int = Field(5, ge=1, le=100)

    # Members and forum
    member_token_leeway_seconds: int = Field(30, ge=0, le=300)
    member_token_max_lifetime_seconds: int = Field(24 * 3600, ge=60)
    member_token_cache_seconds: float = Field(10, ge=0, le=300)
    rate_limit_member_posts: str = "10/minute;100/hour"
    rate_limit_member_reactions: str = "60/minute"
    rate_limit_ip_writes: str = "300/minute"
    rate_limit_member_reports: str = "5/minute;30/day"

    @field_validator(
        "rate_limit_member_posts",
        "rate_limit_member_reactions",
        "rate_limit_ip_writes",
        "rate_limit_feed_events",
        "rate_limit_member_reports",
    )
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError("expected limits like '10/minute' or '10/minute;100/hour'") from None
        return value

    @field_validator(
        "outbound_allowed_hosts",
        "cors_origins",
        "trusted_proxies",
        "webhook_retry_schedule",
        "delivery_retry_schedule",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("webhook_retry_schedule", "delivery_retry_schedule")
    @classmethod
    def _positive_delays(cls, value: list[float]) -> list[float]:
        if any(delay <= 0 for delay in value):
            raise ValueError("every retry delay must be a positive number of seconds")
        return value

    @model_validator(mode="after")
    def _lease_outlives_send(self) -> Settings:
        # A lease shorter than a send would let a second worker resend a live delivery.
        if self.lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError(
                "HEARTH_LEASE_SECONDS must be longer than HEARTH_WEBHOOK_TIMEOUT_SECONDS"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def resolved_log_format(self) -> Literal["console", "json"]:
        if self.log_format != "auto":
            return self.log_format
        return "console" if sys.stderr.isatty() else "json"


@lru_cache
def get_settings() -> Settings:
    return Settings()
