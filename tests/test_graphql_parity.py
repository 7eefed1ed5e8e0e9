"""REST and GraphQL cannot drift: every REST response schema that has a GraphQL type is
walked field by field against it (camelCase names, nullability, enums, instants, ids)."""

from __future__ import annotations

import types
import typing
import uuid
from datetime import datetime
from enum import Enum

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)
from pydantic import AwareDatetime, BaseModel

from app.audit.schemas import AuditActor, AuditEntryOut
from app.communities.schemas import ChannelOut, CommunityOut
from app.feeds.schemas import FeedItemOut, FeedOut
from app.forum.schemas import MemberModeration
from app.graphql import schema
from app.moderation.schemas import (
    AutomodMatch,
    AutomodTestOut,
    BacktestOut,
    BacktestSample,
    RuleOut,
)
from app.moderation.schemas_conduct import (
    AppealOut,
    Issuer,
    LadderStep,
    MeOut,
    NoteOut,
    SanctionOut,
    StrikeAdded,
    StrikeOut,
    StrikePolicy,
)
from app.moderation.schemas_notices import (
    MemberNotices,
)
from app.moderation.schemas_review import (
    AutomodHit,
    BulkResult,
    ReportOut,
    ReviewItemOut,
    ReviewTarget,
)
from app.schedule.schemas import (
    CalendarEntry,
    Check,
    CheckResult,
    ContentOut,
    DeliveryOut,
    FeedOptions,
    PreviewOut,
    Recurrence,
)

# REST schema → GraphQL type, and the fields GraphQL shapes differently on purpose.
PAIRS: dict[type[BaseModel], tuple[str, dict[str, str]]] = {
    ContentOut: ("Content", {}),
    CalendarEntry: ("CalendarEntry", {}),
    DeliveryOut: ("Delivery", {}),
    FeedOptions: ("FeedOptions", {}),
    Recurrence: ("Recurrence", {}),
    Check: ("Check", {}),
    CheckResult: ("CheckResult", {}),
    PreviewOut: ("Preview", {}),
    ChannelOut: ("Channel", {}),
    FeedOut: ("Feed", {}),
    FeedItemOut: ("FeedItem", {}),
    AuditEntryOut: ("AuditEntry", {}),
    AuditActor: ("AuditActor", {}),
    RuleOut: ("AutomodRule", {}),
    AutomodMatch: ("AutomodMatch", {}),
    AutomodTestOut: ("AutomodTestResult", {}),
    BacktestOut: ("BacktestResult", {}),
    BacktestSample: ("BacktestSample", {}),
    ReviewItemOut: ("ReviewItem", {}),
    ReviewTarget: ("ReviewTarget", {}),
    AutomodHit: ("AutomodHit", {}),
    ReportOut: ("Report", {}),
    BulkResult: ("BulkDecisionResult", {}),
    SanctionOut: ("Sanction", {}),
    Issuer: ("Issuer", {}),
    StrikeOut: ("Strike", {}),
    StrikeAdded: ("StrikeAdded", {}),
    StrikePolicy: ("StrikePolicy", {}),
    LadderStep: ("LadderStep", {}),
    MemberNotices: ("MemberNotices", {}),
    AppealOut: ("Appeal", {}),
    NoteOut: ("MemberNote", {}),
    MeOut: ("Me", {}),
    MemberModeration: ("MemberModeration", {}),
    CommunityOut: (
        "Community",
        {
            "tone": "staff only: null (FORBIDDEN) for a member token",
            "has_member_secret": "staff only: null (FORBIDDEN) for a member token",
        },
    ),
}
GRAPHQL = schema._schema


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _unwrap_optional(annotation: object) -> tuple[object, bool]:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True  # noqa: UP007
    return annotation, False


def _check(model: str, name: str, annotation: object, gql_type: object) -> list[str]:
    problems = []
    inner, optional = _unwrap_optional(annotation)
    if isinstance(gql_type, GraphQLNonNull) == optional:
        problems.append(f"{model}.{name}: nullability differs")
    base = gql_type.of_type if isinstance(gql_type, GraphQLNonNull) else gql_type
    if typing.get_origin(typing.Annotated) and typing.get_origin(inner) is typing.Annotated:
        inner = typing.get_args(inner)[0]
    if typing.get_origin(inner) is list:
        if not isinstance(base, GraphQLList):
            problems.append(f"{model}.{name}: a list in REST")
        return problems
    if isinstance(inner, type) and issubclass(inner, Enum):
        values = {member.value for member in inner}
        if not isinstance(base, GraphQLEnumType) or set(base.values) != values:
            problems.append(f"{model}.{name}: enum values differ")
    for kind, scalar in ((datetime, "DateTime"), (AwareDatetime, "DateTime"), (uuid.UUID, "UUID")):
        if inner is kind and not (isinstance(base, GraphQLScalarType) and base.name == scalar):
            problems.append(f"{model}.{name}: not the {scalar} scalar")
    return problems


def test_every_rest_response_field_is_in_its_graphql_type_alike() -> None:
    problems = []
    for model, (type_name, differs) in PAIRS.items():
        gql = GRAPHQL.type_map[type_name]
        assert isinstance(gql, GraphQLObjectType), type_name
        for name, field in model.model_fields.items():
            if name in differs:
                continue
            found = gql.fields.get(camel(name))
            if found is None:
                problems.append(f"{type_name} has no {camel(name)} ({model.__name__}.{name})")
                continue
            problems += _check(type_name, name, field.annotation, found.type)
    assert problems == []


def test_the_exceptions_are_still_real() -> None:
    """An exception listed above that no longer differs is a stale excuse: remove it."""
    for model, (type_name, differs) in PAIRS.items():
        gql = GRAPHQL.type_map[type_name]
        for name in differs:
            assert name in model.model_fields, (model.__name__, name)
            field = gql.fields.get(camel(name))  # type: ignore[union-attr]
            if field is not None:
                assert _check(type_name, name, model.model_fields[name].annotation, field.type)
