"""The baselines of scripts/bench/feed.py, under the uvicorn settings `hearth serve` uses.

    _feed_apps.py raw --port N --answer FILE     a raw ASGI app serving one captured answer
    _feed_apps.py bare --port N                  a bare FastAPI endpoint on Hearth's database

`raw` answers GET on any path with the bytes and headers of a Hearth feed answer captured
to FILE (JSON: status, headers, body in base64), and 304 with the same headers when the
request's If-None-Match is that ETag: the least any server can do for the same answer.
`bare` answers GET /feed/{channel_id} with the feed's 20 newest delivered items, read in
one query and returned as JSON.
The database URL comes from HEARTH_DATABASE_URL, as Hearth's does.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import uuid
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, Uuid, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import create_async_engine

metadata = MetaData()
content = Table(
    "content_items",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", String(32)),
    Column("title", String(300)),
    Column("body_html", Text),
    Column("tags", JSONB),
    Column("feed", JSONB),
    Column("published_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)
deliveries = Table(
    "content_deliveries",
    metadata,
    Column("content_id", Uuid),
    Column("channel_id", Uuid),
    Column("status", String(16)),
)


def raw_app(answer: dict[str, Any]) -> Any:
    body = base64.b64decode(answer["body"])
    headers = [(k.encode(), v.encode()) for k, v in answer["headers"]]
    headers.append((b"content-length", str(len(body)).encode()))
    etag = next(v for k, v in headers if k == b"etag")
    not_modified = [(k, v) for k, v in headers if k not in (b"content-type", b"content-length")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return  # lifespan: nothing to start
        if scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        match = any(k == b"if-none-match" and v == etag for k, v in scope["headers"])
        if match:
            await send({"type": "http.response.start", "status": 304, "headers": not_modified})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def bare_app(database_url: str) -> FastAPI:
    engine = create_async_engine(database_url, pool_size=10, max_overflow=20)
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/feed/{channel_id}")
    async def feed(channel_id: uuid.UUID) -> dict[str, Any]:
        stmt = (
            select(content)
            .join(deliveries, deliveries.c.content_id == content.c.id)
            .where(deliveries.c.channel_id == channel_id, deliveries.c.status == "delivered")
            .order_by(content.c.published_at.desc())
            .limit(20)
        )
        async with engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return {"items": [dict(row) for row in rows]}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("raw", "bare"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answer", help="raw: the captured answer (JSON)")
    args = parser.parse_args()
    if args.mode == "raw":
        with open(args.answer) as f:
            app = raw_app(json.load(f))
    else:
        app = bare_app(os.environ["HEARTH_DATABASE_URL"])
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
