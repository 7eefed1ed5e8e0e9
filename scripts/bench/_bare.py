"""The baseline of scripts/bench/forum.py: a bare FastAPI app on Hearth's database.

It serves the same two paths as Hearth and does only the one statement each needs: the
SELECT of a thread's first page of posts, or the INSERT of one post (body rendered by
escaping, a fixed sentiment). No auth, no rate limit, no sanitizer, no outbox. Served by
uvicorn with the settings `hearth serve` uses, one worker, asyncpg and the same pool size.
The database URL comes from HEARTH_DATABASE_URL, like Hearth's (not the command line, where
a password would show in the process list).
"""

from __future__ import annotations

import argparse
import html
import os
import uuid
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import create_async_engine

posts = Table(
    "forum_posts",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid),
    Column("community_id", Uuid),
    Column("thread_id", Uuid),
    Column("reply_to_id", Uuid),
    Column("author_member_id", Uuid),
    Column("author_key_id", Uuid),
    Column("author_name", String(100)),
    Column("body", Text),
    Column("body_html", Text),
    Column("status", String(16)),
    Column("is_official", Boolean),
    Column("is_answer", Boolean),
    Column("sentiment_score", Float),
    Column("sentiment_label", String(8)),
    Column("reactions", JSONB),
    Column("created_at", DateTime(timezone=True)),
    Column("edited_at", DateTime(timezone=True)),
    Column("removed_at", DateTime(timezone=True)),
)


class PostIn(BaseModel):
    body: str


def create_app(
    database_url: str, org_id: uuid.UUID, community_id: uuid.UUID, member_id: uuid.UUID
) -> FastAPI:
    # Hearth's pool size; no pre-ping, since this app sends only its one statement.
    engine = create_async_engine(database_url, pool_size=10, max_overflow=20)
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/threads/{thread_id}/posts")
    async def list_posts(thread_id: uuid.UUID) -> dict:
        stmt = (
            select(posts)
            .where(posts.c.thread_id == thread_id)
            .order_by(posts.c.created_at, posts.c.id)
            .limit(21)
        )
        async with engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return {"items": [dict(row) for row in rows[:20]], "next_cursor": None}

    @app.post("/v1/threads/{thread_id}/posts", status_code=201)
    async def create_post(thread_id: uuid.UUID, data: PostIn) -> dict:
        row = {
            "id": uuid.uuid4(),
            "org_id": org_id,
            "community_id": community_id,
            "thread_id": thread_id,
            "reply_to_id": None,
            "author_member_id": member_id,
            "author_key_id": None,
            "author_name": None,
            "body": data.body,
            "body_html": f"<p>{html.escape(data.body)}</p>",
            "status": "visible",
            "is_official": False,
            "is_answer": False,
            "sentiment_score": 0.0,
            "sentiment_label": "neutral",
            "reactions": {},
            "created_at": datetime.now(UTC),
            "edited_at": None,
            "removed_at": None,
        }
        async with engine.begin() as conn:
            await conn.execute(insert(posts).values(row))
        return row

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--org-id", type=uuid.UUID, required=True)
    parser.add_argument("--community-id", type=uuid.UUID, required=True)
    parser.add_argument("--member-id", type=uuid.UUID, required=True)
    args = parser.parse_args()
    app = create_app(
        os.environ["HEARTH_DATABASE_URL"], args.org_id, args.community_id, args.member_id
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
