"""The OpenAPI document, completed where FastAPI cannot know the truth on its own.

- `Problem`, the body of every error, and the other shared schemas, including those a
  domain documents a body with (`documented_body`) when its model validates more loosely
  than it is described (e.g. a union told apart by a field, checked by the service);
- every operation that takes a JSON body can also answer 400 (not JSON), 413 (too large)
  and 415 (not sent as JSON): these come from layers below the route;
- `/graphql`: what GET and POST take and answer (Strawberry documents neither).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter

from app.core.emoji import accepted_inputs
from app.core.errors import Problem, problem_responses

_REF = "#/components/schemas/{model}"
# Component name → the type whose JSON schema it is (see documented_body).
_DOCUMENTED: dict[str, Any] = {}


def documented_body(name: str, shape: Any) -> dict[str, Any]:
    """`openapi_extra` for a route whose JSON body is documented as `shape` (any pydantic
    type), registered as the component `name`."""
    _DOCUMENTED[name] = shape
    content = {"application/json": {"schema": {"$ref": _REF.format(model=name)}}}
    return {"requestBody": {"required": True, "content": content}}


BODY_ERRORS = (400, 413, 415)

_GRAPHQL_REQUEST = {
    "type": "object",
    "required": ["query"],
    "properties": {
        "query": {"type": "string", "minLength": 1, "description": "A GraphQL document."},
        "operationName": {
            "type": ["string", "null"],
            "description": "Which operation of the document to run.",
        },
        "variables": {"type": ["object", "null"], "additionalProperties": True},
        "extensions": {"type": ["object", "null"], "additionalProperties": True},
    },
}
_GRAPHQL_RESPONSE = {
    "type": "object",
    "properties": {
        "data": {"type": ["object", "null"], "additionalProperties": True},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["message"],
                "properties": {
                    "message": {"type": "string"},
                    "path": {"type": "array"},
                    "locations": {"type": "array"},
                    "extensions": {"type": "object", "additionalProperties": True},
                },
            },
        },
    },
    "description": "GraphQL errors (`errors[].extensions.code`) are answered with a 200.",
}


def install(app: FastAPI) -> None:
    """Wrap `app.openapi` so the generated document is completed once, when first asked."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, shape in {"Problem": Problem, **_DOCUMENTED}.items():
        schema = TypeAdapter(shape).json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    schemas["Emoji"] = {
        "type": "string",
        "enum": accepted_inputs(),
        "description": "A shortcode (`thumbsup`, `+1`, `tada`) or an emoji itself.",
    }
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            if "requestBody" in operation:
                operation["responses"] = {
                    **{str(k): v for k, v in problem_responses(*BODY_ERRORS).items()},
                    **operation["responses"],
                }
        if path == "/graphql":
            _document_graphql(operations)
    return spec


def _document_graphql(operations: dict[str, Any]) -> None:
    json_result = {"application/json": {"schema": _GRAPHQL_RESPONSE}}
    problems = {str(k): v for k, v in problem_responses(400, 405).items()}
    body_problems = {str(k): v for k, v in problem_responses(413, 415).items()}
    operations["get"].update(
        summary="GraphiQL in a browser, or a query in the URL",
        description=(
            "Without `query`, the GraphiQL page. With `query` (and `variables` as JSON and "
            "`operationName`, as in GraphQL over HTTP), runs a query; mutations only over "
            "POST."
        ),
        parameters=[
            {
                "name": "query",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "minLength": 1},
                "description": "A GraphQL query document.",
            }
        ],
        responses={
            "200": {
                "description": "The GraphiQL page, or the query's result.",
                "content": {"text/html": {"schema": {"type": "string"}}, **json_result},
            },
            **problems,
        },
    )
    operations["post"].update(
        summary="Run a GraphQL query or mutation",
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": _GRAPHQL_REQUEST}},
        },
        responses={
            "200": {"description": "The result.", "content": json_result},
            **problems,
            **body_problems,
        },
    )
