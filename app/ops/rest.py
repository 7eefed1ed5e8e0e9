"""REST: /healthz, /readyz, /metrics (no auth)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from app import __version__
from app.core.deps import RuntimeDep
from app.core.errors import problem_response, problem_responses
from app.core.runtime import Runtime

router = APIRouter(tags=["ops"])
CHECK_TIMEOUT = 2.0


class Health(BaseModel):
    status: str
    version: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok", version=__version__)


async def _check_database(runtime: Runtime) -> None:
    async with runtime.read_session() as session:
        await session.execute(text("SELECT 1"))


async def _check_redis(runtime: Runtime) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(runtime.settings.redis_url or "")
    try:
        await client.ping()
    finally:
        await client.aclose()


@router.get("/readyz", response_model=Readiness, responses=problem_responses(503))
async def readyz(runtime: RuntimeDep) -> Response | Readiness:
    """The database (and Redis, when configured) answer; 503 otherwise."""
    checks = {"database": _check_database}
    if runtime.settings.redis_url:
        checks["redis"] = _check_redis
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(runtime), CHECK_TIMEOUT)
            results[name] = "ok"
        except Exception as exc:  # any failure means "not ready", with the reason shown
            results[name] = f"failed: {exc.__class__.__name__}: {exc}"[:300]
    if all(v == "ok" for v in results.values()):
        return Readiness(status="ok", checks=results)
    failed = ", ".join(k for k, v in results.items() if v != "ok")
    return problem_response(
        503,
        "unavailable",
        "Service unavailable",
        f"Not ready: {failed} did not answer.",
        checks=results,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
async def metrics() -> Response:
    """Prometheus metrics: requests, latency by route template, jobs, deliveries."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
