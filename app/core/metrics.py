"""Prometheus metrics. Route labels are route templates, never raw paths (bounded cardinality)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "hearth_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "hearth_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOBS = Counter(
    "hearth_jobs",
    "Background job runs, by job name and outcome (ok, error, cancelled).",
    ["job", "outcome"],
)
JOB_SECONDS = Histogram(
    "hearth_job_duration_seconds",
    "Time a background job ran, by job name.",
    ["job"],
)
WEBHOOK_DELIVERIES = Counter(
    "hearth_webhook_delivery_attempts",
    "Outbound webhook delivery attempts, by outcome (success, failure, error, blocked).",
    ["outcome"],
)
CHANNEL_SENDS = Counter(
    "hearth_channel_sends",
    "Messages sent to channels, by channel kind and outcome (success, failure, error, blocked).",
    ["kind", "outcome"],
)
FEED_ANSWERS = Counter(
    "hearth_feed_answers",
    "Launcher feed answers by the feed cache: hit (a cached 200), not_modified (a 304 from"
    " the cache) and miss (rendered by the API).",
    ["outcome"],
)
FEED_CACHE_BYTES = Gauge(
    "hearth_feed_cache_bytes", "Bytes of launcher feed answers held in this process's cache."
)
AUTOMOD_TOXICITY_SKIPPED = Counter(
    "hearth_automod_toxicity_skipped",
    "Posts whose toxicity rules were skipped because the scorer did not answer, by provider.",
    ["provider"],
)
