"""Migrations run both ways on both engines, and the models match them (no drift)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import insert, inspect, select, update
from sqlalchemy.ext.asyncio import create_async_engine

from app.forum.models import Member, Post, Reaction, Thread
from tests.conftest import (
    fresh_database,
    http_client,
    make_settings,
    run_alembic,
    running_app,
    seed_org,
)
from tests.forum.conftest import make_forum, start_thread


async def table_names(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_upgrade_downgrade_upgrade_without_drift(backend: str, tmp_path) -> None:
    async with fresh_database(backend, tmp_path) as url:
        await asyncio.to_thread(run_alembic, url, "upgrade")
        assert {
            "organisations",
            "api_keys",
            "communities",
            "channels",
            "outbox_events",
            "webhook_endpoints",
            "webhook_deliveries",
            "webhook_attempts",
        } <= await table_names(url)
        await asyncio.to_thread(run_alembic, url, "downgrade", "base")
        assert await table_names(url) <= {"alembic_version"}
        await asyncio.to_thread(run_alembic, url, "upgrade")
        # `alembic check` raises when the models and the migrated schema differ.
        await asyncio.to_thread(run_alembic, url, "check")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_reactions_stored_as_sent_become_one_canonical_reaction(
    backend: str, tmp_path
) -> None:
    """Rows written before 0003 (`thumbsup`, `+1` and 👍 by one member, `heart`, text that is
    no emoji) end up as one row per emoji and reactor, and the counts follow."""
    async with fresh_database(backend, tmp_path) as url:
        await asyncio.to_thread(run_alembic, url, "upgrade")
        async with running_app(make_settings(url)) as app, http_client(app) as client:
            org = await seed_org(app, "Starfall Studios")
            forum = await make_forum(client, org)
            thread = await start_thread(client, forum, forum.member("p1", "Ada"))
            # Bob's first request makes him a member.
            bob = await client.get(f"/v1/threads/{thread['id']}", headers=forum.member("p2", "Bob"))
            assert bob.status_code == 200
        post_id = uuid.UUID(thread["first_post_id"])
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                members = dict((await conn.execute(select(Member.external_id, Member.id))).all())
                as_sent = [
                    ("p2", "thumbsup"), ("p2", "+1"), ("p2", "\N{THUMBS UP SIGN}"),
                    ("p2", "heart"), ("p2", "notanemoji"), ("p1", "+1"),
                ]  # fmt: skip
                for sub, emoji in as_sent:
                    await conn.execute(
                        insert(Reaction).values(
                            id=uuid.uuid4(), post_id=post_id, emoji=emoji, member_id=members[sub]
                        )
                    )
                await conn.execute(
                    update(Post)
                    .where(Post.id == post_id)
                    .values(
                        reactions={
                            "thumbsup": 1,
                            "+1": 2,
                            "\N{THUMBS UP SIGN}": 1,
                            "heart": 1,
                            "notanemoji": 1,
                        }
                    )
                )
                await conn.execute(
                    update(Thread)
                    .where(Thread.first_post_id == post_id)
                    .values(reaction_count=6, score=6)
                )
            await asyncio.to_thread(run_alembic, url, "downgrade", "0002")
            await asyncio.to_thread(run_alembic, url, "upgrade")
            async with engine.connect() as conn:
                rows = (await conn.execute(select(Reaction.emoji, Reaction.member_id))).all()
                post = (await conn.execute(select(Post.reactions).where(Post.id == post_id))).one()
                counts = (
                    await conn.execute(
                        select(Thread.reaction_count, Thread.score).where(
                            Thread.first_post_id == post_id
                        )
                    )
                ).one()
        finally:
            await engine.dispose()
    thumbs, heart = "\N{THUMBS UP SIGN}", "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}"
    assert sorted(rows, key=str) == sorted(
        [(thumbs, members["p2"]), (heart, members["p2"]), (thumbs, members["p1"])], key=str
    )
    assert post.reactions == {thumbs: 2, heart: 1}
    assert tuple(counts) == (3, 3)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_downgrading_0003_leaves_keys_the_earlier_code_takes(backend: str, tmp_path) -> None:
    """A keycap (1️⃣) is canonical now but was refused before 0003: a downgrade turns it into
    a shortcode, and the upgrade brings the character back."""
    keycap = "1\N{VARIATION SELECTOR-16}\N{COMBINING ENCLOSING KEYCAP}"
    async with fresh_database(backend, tmp_path) as url:
        await asyncio.to_thread(run_alembic, url, "upgrade")
        async with running_app(make_settings(url)) as app, http_client(app) as client:
            forum = await make_forum(client, await seed_org(app, "Starfall Studios"))
            thread = await start_thread(client, forum, forum.member("p1", "Ada"))
            path = f"/v1/posts/{thread['first_post_id']}/reactions/keycap_1"
            assert (await client.put(path, headers=forum.member("p1", "Ada"))).json()[
                "reactions"
            ] == {keycap: 1}
        engine = create_async_engine(url)
        try:
            await asyncio.to_thread(run_alembic, url, "downgrade", "0002")
            async with engine.connect() as conn:
                (down,) = (await conn.execute(select(Reaction.emoji))).scalars().all()
            await asyncio.to_thread(run_alembic, url, "upgrade")
            async with engine.connect() as conn:
                (up,) = (await conn.execute(select(Reaction.emoji))).scalars().all()
        finally:
            await engine.dispose()
    assert down == "keycap_1"
    assert up == keycap


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_0006_gives_a_slug_two_feeds_raced_for_to_the_older_one(
    backend: str, tmp_path
) -> None:
    from app.communities.models import Channel

    async with fresh_database(backend, tmp_path) as url:
        await asyncio.to_thread(run_alembic, url, "upgrade")
        async with running_app(make_settings(url)) as app, http_client(app) as client:
            org = await seed_org(app, "Starfall Studios")
            auth = {"Authorization": f"Bearer {org.keys['manager']}"}
            community = await client.post(
                "/v1/communities", json={"slug": "c", "name": "C"}, headers=auth
            )
            ids = {}
            for name, slug in (("older", "news"), ("newer", None), ("other", "patches")):
                config = {"public_slug": slug} if slug else {}
                created = await client.post(
                    f"/v1/communities/{community.json()['id']}/channels",
                    json={"name": name, "kind": "launcher_feed", "config": config},
                    headers=auth,
                )
                assert created.status_code == 201, created.text
                ids[name] = uuid.UUID(created.json()["id"])
        engine = create_async_engine(url)
        try:
            await asyncio.to_thread(run_alembic, url, "downgrade", "0005")
            async with engine.begin() as conn:  # what a race before 0006 could leave
                await conn.execute(
                    update(Channel.__table__)
                    .where(Channel.__table__.c.id == ids["newer"])
                    .values(config={"public_slug": "news"})
                )
            await asyncio.to_thread(run_alembic, url, "upgrade")
            async with engine.connect() as conn:
                rows = (await conn.execute(select(Channel.id, Channel.public_slug))).all()
        finally:
            await engine.dispose()
    assert dict(rows) == {ids["older"]: "news", ids["newer"]: None, ids["other"]: "patches"}
