"""Health, readiness, metrics, request ids, and errors that every route shares."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from tests.conftest import REDIS_URL, Org, http_client, make_settings, redis_or_skip, running_app

PROBLEM = "application/problem+json"


async def test_healthz_answers_without_auth(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.both_backends
async def test_readyz_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


async def test_readyz_is_503_when_the_database_does_not_answer(tmp_path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/hearth.db")
    async with running_app(settings) as app, http_client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["checks"]["database"].startswith("failed")
    assert "database" in body["detail"]


async def test_readyz_checks_redis_when_configured(settings) -> None:
    await redis_or_skip()
    up = make_settings(settings.database_url, redis_url=REDIS_URL)
    async with running_app(up) as app, http_client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}

    # Redis down: the API still starts (enqueues are recovered by the sweep) and says so.
    down = make_settings(settings.database_url, redis_url="redis://127.0.0.1:1/0")
    async with running_app(down) as app, http_client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("failed")


async def test_metrics_use_route_templates_not_raw_paths(
    client: httpx.AsyncClient, org: Org
) -> None:
    created = await client.post(
        "/v1/communities", json={"slug": "metrics", "name": "Metrics"}, headers=org.auth("manager")
    )
    community_id = created.json()["id"]
    await client.get(f"/v1/communities/{community_id}", headers=org.auth("viewer"))
    await client.get("/v1/does-not-exist")
    text = (await client.get("/metrics")).text
    assert 'route="/v1/communities/{community_id}"' in text
    assert community_id not in text
    assert 'route="unmatched",status="404"' in text
    assert "hearth_http_request_duration_seconds_bucket" in text


async def test_metrics_count_job_outcomes(client: httpx.AsyncClient, org: Org) -> None:
    labels = {"job": "dispatch_events", "outcome": "ok"}
    before = REGISTRY.get_sample_value("hearth_jobs_total", labels) or 0
    await client.post(
        "/v1/communities", json={"slug": "jobs", "name": "Jobs"}, headers=org.auth("manager")
    )
    for _ in range(100):
        if (REGISTRY.get_sample_value("hearth_jobs_total", labels) or 0) > before:
            break
        await asyncio.sleep(0.05)
    assert REGISTRY.get_sample_value("hearth_jobs_total", labels) == before + 1
    text = (await client.get("/metrics")).text
    assert 'hearth_jobs_total{job="dispatch_events",outcome="ok"}' in text


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "req-123.abc"})
    assert echoed.headers["x-request-id"] == "req-123.abc"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    unsafe = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"


async def test_unknown_path_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert missing.json()["type"] == "https://hearth.dev/problems/not-found"
    wrong = await client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == PROBLEM
    assert wrong.json()["status"] == 405


async def test_a_405_lists_every_method_of_the_resource(client: httpx.AsyncClient) -> None:
    """`Allow` names what the resource answers, not only the first route that matched."""
    some_id = "00000000-0000-4000-8000-000000000000"
    for method, path, allowed in (
        ("OPTIONS", "/graphql", "GET, POST"),
        ("PUT", "/v1/api-keys", "GET, POST"),
        ("OPTIONS", f"/v1/communities/{some_id}", "DELETE, GET, PATCH"),
        ("POST", f"/v1/posts/{some_id}/reactions/tada", "DELETE, PUT"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allowed, (method, path)


async def test_a_body_not_sent_as_json_is_a_415_that_names_content_type(
    client: httpx.AsyncClient, org: Org
) -> None:
    """curl's `-d` alone sends a form: say what is wrong instead of "a valid dictionary"."""
    body = b'{"slug": "moonfall", "name": "Moonfall"}'
    for content_type in ("application/x-www-form-urlencoded", "text/plain", None):
        headers = {
            **org.auth("manager"),
            **({"content-type": content_type} if content_type else {}),
        }
        response = await client.post("/v1/communities", content=body, headers=headers)
        assert response.status_code == 415, (content_type, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert "Content-Type: application/json" in response.json()["detail"]
    graphql = await client.post(
        "/graphql", content=b'{"query": "{ org { id } }"}', headers=org.auth()
    )
    assert graphql.status_code == 415
    assert "Content-Type: application/json" in graphql.json()["detail"]
    sent_as_json = await client.post(
        "/v1/communities",
        content=body,
        headers={**org.auth("manager"), "content-type": "application/json"},
    )
    assert sent_as_json.status_code == 201


async def test_validation_errors_are_problems_with_a_list(
    client: httpx.AsyncClient, org: Org
) -> None:
    response = await client.post(
        "/v1/communities", json={"slug": "Bad Slug!", "name": ""}, headers=org.auth("manager")
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "https://hearth.dev/problems/validation"
    locs = {tuple(e["loc"]) for e in body["errors"]}
    assert ("body", "slug") in locs and ("body", "name") in locs


async def test_malformed_json_is_a_400_problem_that_says_where(
    client: httpx.AsyncClient, org: Org
) -> None:
    response = await client.post(
        "/v1/communities",
        content=b'{"slug": "x", oops}',
        headers={**org.auth("manager"), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"].startswith("The request body is not valid JSON")
    assert "character 14" in response.json()["detail"]
    graphql = await client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert graphql.status_code == 400
    assert graphql.headers["content-type"] == PROBLEM


async def test_bodies_over_the_limit_are_413(client: httpx.AsyncClient, org: Org) -> None:
    big = b'{"slug": "x", "name": "' + b"a" * 1_100_000 + b'"}'
    declared = await client.post(
        "/v1/communities",
        content=big,
        headers={**org.auth("manager"), "content-type": "application/json"},
    )
    assert declared.status_code == 413
    assert declared.headers["content-type"] == PROBLEM

    async def chunks():  # no Content-Length: counted while streaming
        for _ in range(20):
            yield b"a" * 100_000

    streamed = await client.post(
        "/v1/communities",
        content=chunks(),
        headers={**org.auth("manager"), "content-type": "application/json"},
    )
    assert streamed.status_code == 413
    listed = await client.get("/v1/communities", headers=org.auth("viewer"))
    assert listed.json()["items"] == []


async def test_unexpected_errors_are_masked_and_carry_the_request_id(settings) -> None:
    async with running_app(settings) as app:
        boom_app: FastAPI = app

        async def boom() -> None:
            raise RuntimeError("secret internals: password=hunter2")

        boom_app.add_api_route("/boom", boom)
        async with http_client(boom_app) as client:
            response = await client.get("/boom", headers={"X-Request-ID": "trace-me"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert body["request_id"] == "trace-me"
    assert response.headers["x-request-id"] == "trace-me"


async def test_cors_is_off_by_default_and_allows_listed_origins(settings, client) -> None:
    preflight = {
        "Origin": "https://dash.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    closed = await client.options("/v1/communities", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    open_ = make_settings(settings.database_url, cors_origins=["https://dash.example.com"])
    async with running_app(open_) as app, http_client(app) as cors_client:
        allowed = await cors_client.options("/v1/communities", headers=preflight)
        other = await cors_client.options(
            "/v1/communities", headers={**preflight, "Origin": "https://evil.example"}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example.com"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
