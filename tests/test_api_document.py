"""What the OpenAPI document promises, checked on the document and against the app where
a rule is easier to see than in a fuzzer's report (tests/test_conformance.py runs the
fuzzer)."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.forum.categories import CATEGORY_ORDER
from app.forum.saved_replies import SAVED_REPLY_ORDER
from app.forum.threads import THREAD_CURSOR
from app.orgs.service import KEY_ORDER
from app.schema_export import openapi_json
from tests.conftest import Org

SPEC = json.loads(openapi_json())
OPERATIONS = [
    (method, path, operation)
    for path, methods in SPEC["paths"].items()
    for method, operation in methods.items()
]


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_json_body_documents_the_answers_of_the_layers_below() -> None:
    for method, path, operation in OPERATIONS:
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(operation["responses"]), (method, path)


def test_patch_fields_admit_null_only_where_null_clears_a_value() -> None:
    nullable = {
        ("/v1/inbox/{item_id}", "assignee_key_id"),
        ("/v1/content/{content_id}", "recurrence"),
        ("/v1/content/{content_id}", "publish_at"),
        ("/v1/automod/rules/{rule_id}", "message"),
        ("/v1/automod/rules/{rule_id}", "action_config"),
        ("/v1/queue/{item_id}", "assignee_key_id"),
    }
    for _, path, operation in (op for op in OPERATIONS if op[0] == "patch"):
        body = resolve(operation["requestBody"]["content"]["application/json"]["schema"])
        for name, field in body["properties"].items():
            admits_null = {"type": "null"} in field.get("anyOf", []) or field.get("type") == "null"
            assert admits_null == ((path, name) in nullable), (path, name)


def test_graphiql_and_graphql_answers_are_documented() -> None:
    graphql = SPEC["paths"]["/graphql"]
    assert "text/html" in graphql["get"]["responses"]["200"]["content"]
    body = graphql["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["query"]


@pytest.mark.both_backends
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_every_cursor_the_document_admits_is_a_position(
    client: httpx.AsyncClient, org: Org, data: st.DataObject
) -> None:
    """A cursor matching the documented pattern pages from somewhere; it is never refused.
    Times, ids, numbers, flags and text (any bytes, read leniently) alike."""
    communities = (await client.get("/v1/communities", headers=org.auth())).json()["items"]
    if not communities:  # the first example makes one; hypothesis reuses the fixtures
        new = {"slug": "paging", "name": "Paging"}
        communities = [(await client.post("/v1/communities", json=new, headers=org.auth())).json()]
    community = f"/v1/communities/{communities[0]['id']}"
    lists = [
        ("/v1/api-keys", KEY_ORDER.cursor, {}),
        (f"{community}/categories", CATEGORY_ORDER.cursor, {}),
        (f"{community}/saved-replies", SAVED_REPLY_ORDER.cursor, {}),
        *(
            (f"{community}/threads", THREAD_CURSOR, {"sort": s})
            for s in ("latest", "active", "top")
        ),
    ]
    for path, shape, query in lists:
        cursor = data.draw(st.from_regex(shape.pattern, fullmatch=True), label=path)
        page = await client.get(path, params={**query, "cursor": cursor}, headers=org.auth())
        assert page.status_code == 200, (path, cursor, page.text)


async def test_a_cursor_outside_the_pattern_is_422_naming_it(
    client: httpx.AsyncClient, org: Org
) -> None:
    for cursor in ("garbage", "1.2", "x" * 200):
        response = await client.get("/v1/api-keys", params={"cursor": cursor}, headers=org.auth())
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "cursor"]
