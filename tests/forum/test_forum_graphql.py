"""The forum over GraphQL: the same services, roles and conduct rules as REST, with
relations through DataLoaders (a constant number of SQL statements for a list of threads)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, event, update
from sqlalchemy.ext.asyncio import create_async_engine

from app.forum.models import Member, Post, Thread
from app.settings import Settings
from tests.conftest import http_client, make_settings, running_app
from tests.forum.conftest import Forum

THREAD = """mutation($cid: UUID!, $input: ThreadInput!) {
  createThread(communityId: $cid, input: $input) { id title kind author { displayName isStaff } } }"""
POST = """mutation($tid: UUID!, $input: PostInput!) {
  createPost(threadId: $tid, input: $input) {
    id body bodyHtml isOfficial author { displayName isStaff } sentiment { score label } } }"""


async def gql(
    client: httpx.AsyncClient, query: str, headers: dict[str, str], **variables: Any
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


async def new_thread(
    client: httpx.AsyncClient,
    forum: Forum,
    headers: dict[str, str],
    title: str = "Where is the map editor?",
    kind: str = "question",
    body: str = "I looked everywhere.",
) -> dict[str, Any]:
    result = await gql(
        client,
        THREAD,
        headers,
        cid=forum.community_id,
        input={"categoryId": forum.category_id, "title": title, "body": body, "kind": kind},
    )
    assert "errors" not in result, result
    return result["data"]["createThread"]


async def reply(
    client: httpx.AsyncClient, thread_id: str, headers: dict[str, str], body: str, **extra: Any
) -> dict[str, Any]:
    return await gql(client, POST, headers, tid=thread_id, input={"body": body, **extra})


async def set_columns(settings: Settings, table: Table, row_id: str, **values: Any) -> None:
    """What the moderation issue will do through an API: change a status in the database."""
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(table).where(table.c.id == uuid.UUID(row_id)).values(**values)
            )
    finally:
        await engine.dispose()


async def member_id(client: httpx.AsyncClient, forum: Forum, name: str) -> str:
    listed = await gql(
        client,
        "query($cid: UUID!, $q: String) { members(communityId: $cid, q: $q) { items { id } } }",
        forum.staff(),
        cid=forum.community_id,
        q=name,
    )
    return listed["data"]["members"]["items"][0]["id"]


LIST = """query($cid: UUID!, $first: Int!) { community(id: $cid) { threads(first: $first) {
  items { title author { displayName } lastPost { body author { displayName } } } } } }"""


@pytest.mark.both_backends
async def test_threads_with_authors_and_last_posts_cost_constant_statements(
    app, client: httpx.AsyncClient, forum: Forum
) -> None:
    db = app.state.runtime.db
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    async def count_for(first: int) -> list[str]:
        headers = forum.staff("viewer")
        await gql(client, "{ org { id } }", headers)  # the key's last-use write, done before
        statements.clear()
        engines = {db.engine.sync_engine, db.read_engine.sync_engine}
        for engine in engines:
            event.listen(engine, "before_cursor_execute", record)
        try:
            result = await gql(client, LIST, headers, cid=forum.community_id, first=first)
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", record)
        items = result["data"]["community"]["threads"]["items"]
        assert len(items) == first
        assert all(i["author"]["displayName"].startswith("Player") for i in items)
        assert {i["lastPost"]["author"]["displayName"] for i in items} == {"moderator key"}
        # The webhook dispatcher and the content sweeps work in the background on the same
        # engines.
        return [
            s
            for s in statements
            if s.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE"))
            and "outbox" not in s
            and "webhook" not in s
            and "content_" not in s
        ]

    async def add_threads(start: int, stop: int) -> None:
        for i in range(start, stop):
            author = forum.member(f"player-{i}", f"Player {i}")
            thread = await new_thread(client, forum, author, title=f"Thread number {i}")
            answer = await reply(client, thread["id"], forum.staff(), f"Answer {i}")
            assert "errors" not in answer, answer

    await add_threads(0, 5)
    few = await count_for(5)
    await add_threads(5, 50)
    many = await count_for(50)
    assert any("FROM forum_posts" in s for s in many)  # the listener sees the loaders' reads
    assert len(many) == len(few) <= 10, "\n".join(s[:80] for s in many)


async def test_member_sees_visible_threads_and_posts_and_their_own(
    client: httpx.AsyncClient, forum: Forum, settings: Settings
) -> None:
    ada, bob = forum.member("ada", "Ada"), forum.member("bob", "Bob")
    open_thread = await new_thread(client, forum, bob, title="Visible to all")
    hidden = await new_thread(client, forum, bob, title="Hidden by a moderator")
    held = await new_thread(client, forum, ada, title="Ada's held thread")
    await set_columns(settings, Thread.__table__, hidden["id"], status="hidden")
    await set_columns(settings, Thread.__table__, held["id"], status="held")
    visible_reply = (await reply(client, open_thread["id"], ada, "First reply"))["data"]
    hidden_reply = (await reply(client, open_thread["id"], bob, "Rude reply"))["data"]
    await set_columns(settings, Post.__table__, hidden_reply["createPost"]["id"], status="hidden")

    query = """query($cid: UUID!, $tid: UUID!) {
      community(id: $cid) { name threads { items { title status } } categories { slug } }
      thread(id: $tid) { title category { slug } lastPost { body }
        posts(first: 10) { items { body author { displayName } } nextCursor } } }"""
    result = await gql(client, query, ada, cid=forum.community_id, tid=open_thread["id"])
    assert "errors" not in result, result
    data = result["data"]
    titles = {t["title"] for t in data["community"]["threads"]["items"]}
    assert titles == {"Visible to all", "Ada's held thread"}
    assert data["community"]["categories"] == [{"slug": "general"}]
    thread = data["thread"]
    assert thread["category"] == {"slug": "general"}
    assert thread["lastPost"] is None  # the latest post is hidden from members
    assert [p["body"] for p in thread["posts"]["items"]] == ["I looked everywhere.", "First reply"]
    staff = await gql(
        client, query, forum.staff("viewer"), cid=forum.community_id, tid=open_thread["id"]
    )
    assert len(staff["data"]["community"]["threads"]["items"]) == 3
    assert staff["data"]["thread"]["lastPost"] == {"body": "Rude reply"}

    hidden_by_id = await gql(
        client, "query($id: UUID!) { thread(id: $id) { id } }", ada, id=hidden["id"]
    )
    assert codes(hidden_by_id) == ["NOT_FOUND"]
    post = await gql(
        client,
        "query($id: UUID!) { post(id: $id) { body replyTo { id } thread { title } reactions { emoji } } }",
        bob,
        id=visible_reply["createPost"]["id"],
    )
    assert post["data"]["post"] == {
        "body": "First reply",
        "replyTo": None,
        "thread": {"title": "Visible to all"},
        "reactions": [],
    }


async def test_member_community_access_and_staff_only_fields(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    ada = forum.member()
    own = await gql(
        client,
        'query($cid: UUID!) { byId: community(id: $cid) { name } bySlug: community(slug: "starfall") { id } }',
        ada,
        cid=forum.community_id,
    )
    assert own["data"] == {"byId": {"name": "Starfall"}, "bySlug": {"id": forum.community_id}}
    settings_query = "query($cid: UUID!) { community(id: $cid) { name tone { voice } hasMemberSecret channels { id } } }"
    partial = await gql(client, settings_query, ada, cid=forum.community_id)
    assert partial["data"]["community"] == {
        "name": "Starfall",
        "tone": None,
        "hasMemberSecret": None,
        "channels": None,
    }
    assert codes(partial) == ["FORBIDDEN"] * 3
    assert {tuple(e["path"]) for e in partial["errors"]} == {
        ("community", "tone"),
        ("community", "hasMemberSecret"),
        ("community", "channels"),
    }
    staff = await gql(client, settings_query, forum.staff("viewer"), cid=forum.community_id)
    assert "errors" not in staff and staff["data"]["community"]["hasMemberSecret"] is True
    # Another community, even of the same org, is not the member's to see.
    sibling = await client.post(
        "/v1/communities",
        json={"slug": "sibling", "name": "Sibling"},
        headers=forum.staff("manager"),
    )
    for ref in (
        f'id: "{sibling.json()["id"]}"',
        'slug: "sibling"',
        f'id: "{other_forum.community_id}"',
    ):
        assert codes(await gql(client, f"{{ community({ref}) {{ id }} }}", ada)) == ["NOT_FOUND"]
    assert codes(await gql(client, "{ communities { items { id } } }", ada)) == ["FORBIDDEN"]


async def test_member_writes_posts_and_reactions(client: httpx.AsyncClient, forum: Forum) -> None:
    ada, bob = forum.member("ada", "Ada"), forum.member("bob", "Bob")
    thread = await new_thread(client, forum, ada, kind="discussion")
    assert thread["author"] == {"displayName": "Ada", "isStaff": False}
    first = await reply(client, thread["id"], bob, "Love it, thanks!")
    created = first["data"]["createPost"]
    assert created["author"] == {"displayName": "Bob", "isStaff": False}
    assert created["isOfficial"] is False and created["sentiment"]["label"] == "positive"
    answer = await reply(client, thread["id"], ada, "**Glad** it helps", replyTo=created["id"])
    assert "<strong>Glad</strong>" in answer["data"]["createPost"]["bodyHtml"]
    react = "mutation($id: UUID!, $e: String!) { react(postId: $id, emoji: $e) { reactions { emoji count } } }"
    await gql(client, react, ada, id=created["id"], e="thumbsup")
    twice = await gql(client, react, ada, id=created["id"], e="thumbsup")
    assert twice["data"]["react"]["reactions"] == [{"emoji": "\N{THUMBS UP SIGN}", "count": 1}]
    taken_back = await gql(
        client,
        'mutation($id: UUID!) { unreact(postId: $id, emoji: "thumbsup") { reactions { emoji } } }',
        ada,
        id=created["id"],
    )
    assert taken_back["data"]["unreact"]["reactions"] == []
    edit = "mutation($id: UUID!, $b: String!) { editPost(id: $id, body: $b) { body editedAt } }"
    edited = await gql(client, edit, bob, id=created["id"], b="Love it!")
    assert (
        edited["data"]["editPost"]["body"] == "Love it!" and edited["data"]["editPost"]["editedAt"]
    )
    assert codes(await gql(client, edit, ada, id=created["id"], b="Not mine")) == ["FORBIDDEN"]
    reply_to = await gql(
        client,
        "query($id: UUID!) { post(id: $id) { replyTo { body author { displayName } } } }",
        bob,
        id=answer["data"]["createPost"]["id"],
    )
    assert reply_to["data"]["post"]["replyTo"] == {
        "body": "Love it!",
        "author": {"displayName": "Bob"},
    }
    delete = "mutation($id: UUID!) { deletePost(id: $id) }"
    assert (await gql(client, delete, bob, id=created["id"]))["data"]["deletePost"] is True
    gone = await gql(client, "query($id: UUID!) { post(id: $id) { id } }", ada, id=created["id"])
    assert codes(gone) == ["NOT_FOUND"]


async def test_muted_member_is_refused_with_the_reason(
    client: httpx.AsyncClient, forum: Forum, settings: Settings
) -> None:
    ada = forum.member("ada", "Ada")
    thread = await new_thread(client, forum, ada)
    until = datetime.now(UTC) + timedelta(hours=2)
    mid = await member_id(client, forum, "Ada")
    await set_columns(
        settings, Member.__table__, mid, status="muted", status_until=until, status_reason="Spam"
    )
    refused = await reply(client, thread["id"], ada, "Hello again")
    assert codes(refused) == ["FORBIDDEN"]
    error = refused["errors"][0]
    assert "muted" in error["message"] and "Reason: Spam" in error["message"]
    assert error["extensions"]["member_status"] == "muted"
    assert error["extensions"]["status_reason"] == "Spam"
    again = await gql(
        client,
        THREAD,
        ada,
        cid=forum.community_id,
        input={"categoryId": forum.category_id, "title": "Another try", "body": "Hi"},
    )
    assert codes(again) == ["FORBIDDEN"]
    # Reading is still allowed.
    read = await gql(
        client, "query($id: UUID!) { thread(id: $id) { title } }", ada, id=thread["id"]
    )
    assert read["data"]["thread"]["title"] == "Where is the map editor?"


async def test_other_orgs_objects_are_not_found(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    theirs = await new_thread(client, other_forum, other_forum.member("rival", "Rival"))
    for headers in (forum.staff("owner"), forum.member()):
        read = await gql(
            client, "query($id: UUID!) { thread(id: $id) { id } }", headers, id=theirs["id"]
        )
        assert codes(read) == ["NOT_FOUND"]
        write = await reply(client, theirs["id"], headers, "Let me in")
        assert codes(write) == ["NOT_FOUND"]
    change = await gql(
        client,
        "mutation($id: UUID!) { updateThread(id: $id, input: {pinned: true}) { id } }",
        forum.staff("owner"),
        id=theirs["id"],
    )
    assert codes(change) == ["NOT_FOUND"]
    into_theirs = await gql(
        client,
        THREAD,
        forum.staff(),
        cid=other_forum.community_id,
        input={"categoryId": other_forum.category_id, "title": "Hello there", "body": "Hi"},
    )
    assert codes(into_theirs) == ["NOT_FOUND"]


async def test_roles_and_validation_follow_rest(client: httpx.AsyncClient, forum: Forum) -> None:
    valid = {"categoryId": forum.category_id, "title": "Patch notes?", "body": "When?"}
    as_viewer = await gql(
        client, THREAD, forum.staff("viewer"), cid=forum.community_id, input=valid
    )
    assert codes(as_viewer) == ["FORBIDDEN"]
    invalid = await gql(
        client,
        THREAD,
        forum.member(),
        cid=forum.community_id,
        input={**valid, "title": "x", "body": " "},
    )
    assert codes(invalid) == ["BAD_USER_INPUT"]
    locs = {tuple(e["loc"]) for e in invalid["errors"][0]["extensions"]["errors"]}
    assert locs == {("title",), ("body",)}
    thread = await new_thread(client, forum, forum.member())
    bad_emoji = await gql(
        client,
        'mutation($id: UUID!) { react(postId: $id, emoji: "no spaces allowed") { id } }',
        forum.member(),
        id=thread["id"],
    )
    assert codes(bad_emoji) == ["BAD_USER_INPUT"]
    assert bad_emoji["errors"][0]["extensions"]["errors"][0]["loc"] == ["emoji"]
    lock = "mutation($id: UUID!) { updateThread(id: $id, input: {locked: true}) { locked } }"
    assert codes(await gql(client, lock, forum.staff("analyst"), id=thread["id"])) == ["FORBIDDEN"]
    assert codes(await gql(client, lock, forum.member(), id=thread["id"])) == ["FORBIDDEN"]
    locked = await gql(client, lock, forum.staff("moderator"), id=thread["id"])
    assert locked["data"]["updateThread"] == {"locked": True}
    refused = await reply(client, thread["id"], forum.member("bob", "Bob"), "Can I still post?")
    assert codes(refused) == ["FORBIDDEN"] and "locked" in refused["errors"][0]["message"]
    category = """mutation($cid: UUID!) { createCategory(communityId: $cid,
      input: {name: "Bugs", slug: "bugs"}) { slug position } }"""
    as_moderator = await gql(client, category, forum.staff("moderator"), cid=forum.community_id)
    assert codes(as_moderator) == ["FORBIDDEN"]
    made = await gql(client, category, forum.staff("manager"), cid=forum.community_id)
    assert made["data"]["createCategory"] == {"slug": "bugs", "position": 0}
    duplicate = await gql(client, category, forum.staff("manager"), cid=forum.community_id)
    assert codes(duplicate) == ["CONFLICT"]


async def test_member_writes_are_rate_limited(forum: Forum, settings: Settings) -> None:
    limited = make_settings(settings.database_url, rate_limit_member_posts="2/minute")
    async with running_app(limited) as app, http_client(app) as client:
        ada = forum.member()
        thread = await new_thread(client, forum, ada)
        assert "errors" not in await reply(client, thread["id"], ada, "Second post")
        refused = await reply(client, thread["id"], ada, "Third post")
    assert codes(refused) == ["RATE_LIMITED"]
    assert refused["errors"][0]["extensions"]["retry_after"] >= 1
