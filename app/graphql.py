"""The root GraphQL schema: each domain's Query and Mutation merged into one."""

from __future__ import annotations

from datetime import datetime

from strawberry.tools import merge_types

from app.communities import graphql as communities_graphql
from app.core.graphql import DATETIME, Schema, extensions
from app.forum import graphql as forum_graphql
from app.orgs import graphql as orgs_graphql

Query = merge_types("Query", (orgs_graphql.Query, communities_graphql.Query, forum_graphql.Query))
Mutation = merge_types("Mutation", (communities_graphql.Mutation, forum_graphql.Mutation))

schema = Schema(
    query=Query,
    mutation=Mutation,
    extensions=extensions(),
    scalar_overrides={datetime: DATETIME},
)
