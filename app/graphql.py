"""The root GraphQL schema: each domain's Query and Mutation merged into one."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime
from strawberry.tools import merge_types

from app.audit import graphql as audit_graphql
from app.communities import graphql as communities_graphql
from app.core.graphql import DATETIME, Schema, extensions
from app.feeds import graphql as feeds_graphql
from app.forum import graphql as forum_graphql
from app.moderation import graphql as moderation_graphql
from app.moderation import graphql_conduct as conduct_graphql
from app.moderation import graphql_live as live_graphql
from app.moderation import graphql_review as review_graphql
from app.orgs import graphql as orgs_graphql
from app.schedule import graphql as schedule_graphql

Query = merge_types(
    "Query",
    (
        orgs_graphql.Query,
        communities_graphql.Query,
        forum_graphql.Query,
        schedule_graphql.Query,
        feeds_graphql.Query,
        audit_graphql.Query,
        moderation_graphql.Query,
        review_graphql.Query,
        conduct_graphql.Query,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        communities_graphql.Mutation,
        forum_graphql.Mutation,
        schedule_graphql.Mutation,
        moderation_graphql.Mutation,
        review_graphql.Mutation,
        conduct_graphql.Mutation,
    ),
)

schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=live_graphql.Subscription,
    extensions=extensions(),
    # pydantic's AwareDatetime (the schemas' instants with an offset) is a datetime too.
    scalar_overrides={datetime: DATETIME, AwareDatetime: DATETIME},
)
