"""The forum's staff side over GraphQL: inbox, saved replies, answers, categories, members."""

from __future__ import annotations

import httpx

from tests.forum.conftest import Forum
from tests.forum.test_forum_graphql import codes, gql, member_id, new_thread, reply

INBOX = """query($cid: UUID!, $status: InboxStatus!, $assignee: String) {
  community(id: $cid) { inbox(status: $status, assignee: $assignee) { items {
    id status assigneeKeyId sentiment { label } thread { title author { displayName } } } } } }"""


async def inbox_items(
    client: httpx.AsyncClient, forum: Forum, status: str = "open", assignee: str | None = None
) -> list[dict]:
    result = await gql(
        client, INBOX, forum.staff(), cid=forum.community_id, status=status, assignee=assignee
    )
    assert "errors" not in result, result
    return result["data"]["community"]["inbox"]["items"]


async def test_inbox_for_moderators(client: httpx.AsyncClient, forum: Forum) -> None:
    calm = await new_thread(
        client, forum, forum.member("bob", "Bob"), title="How to change my name?", body="Where?"
    )
    angry = await new_thread(
        client,
        forum,
        forum.member("ada", "Ada"),
        title="Crashes all the time",
        body="This is terrible, the game crashes constantly and I hate it.",
    )
    await new_thread(
        client, forum, forum.member("cy", "Cy"), title="Just chatting", kind="discussion"
    )
    items = await inbox_items(client, forum)
    # A very negative question counts as if it had waited a day longer.
    assert [i["thread"]["title"] for i in items] == [angry["title"], calm["title"]]
    assert items[0]["sentiment"] == {"label": "negative"}
    assert items[0]["thread"]["author"] == {"displayName": "Ada"}
    for headers in (forum.staff("viewer"), forum.member("ada", "Ada")):
        denied = await gql(client, INBOX, headers, cid=forum.community_id, status="open")
        assert codes(denied) == ["FORBIDDEN"]
    bad = await gql(
        client, INBOX, forum.staff(), cid=forum.community_id, status="open", assignee="x"
    )
    assert codes(bad) == ["BAD_USER_INPUT"]

    assign = """mutation($id: UUID!, $input: InboxItemPatch!) {
      updateInboxItem(id: $id, input: $input) { status assigneeKeyId thread { title } } }"""
    me = forum.org.key_ids["moderator"]
    # `me`, as over REST, is the calling key (forum.staff() is the moderator's).
    assigned = await gql(
        client, assign, forum.staff(), id=items[1]["id"], input={"assigneeKeyId": "me"}
    )
    assert assigned["data"]["updateInboxItem"]["assigneeKeyId"] == me
    by_id = await gql(client, assign, forum.staff(), id=items[1]["id"], input={"assigneeKeyId": me})
    assert by_id["data"]["updateInboxItem"]["assigneeKeyId"] == me
    assert [i["thread"]["title"] for i in await inbox_items(client, forum, assignee="me")] == [
        calm["title"]
    ]
    unknown = await gql(
        client, assign, forum.staff(), id=items[1]["id"], input={"assigneeKeyId": forum.category_id}
    )
    assert codes(unknown) == ["NOT_FOUND"]
    dismissed = await gql(
        client, assign, forum.staff(), id=items[1]["id"], input={"status": "dismissed"}
    )
    assert dismissed["data"]["updateInboxItem"]["status"] == "dismissed"
    # A staff reply answers the question: it leaves the open inbox.
    answer = await reply(client, angry["id"], forum.staff(), "Sorry! A fix ships today.")
    assert answer["data"]["createPost"]["isOfficial"] is True
    assert await inbox_items(client, forum) == []
    answered = await inbox_items(client, forum, status="answered")
    assert [i["thread"]["title"] for i in answered] == [angry["title"]]
    member_try = await gql(
        client, assign, forum.member("ada", "Ada"), id=items[0]["id"], input={"status": "open"}
    )
    assert codes(member_try) == ["FORBIDDEN"]


async def test_saved_replies(client: httpx.AsyncClient, forum: Forum) -> None:
    thread = await new_thread(client, forum, forum.member("ada", "Ada"), title="Lost my items")
    create = """mutation($cid: UUID!, $input: SavedReplyInput!) {
      createSavedReply(communityId: $cid, input: $input) { id title variables } }"""
    body = "Hi {{member}}, about {{thread}} in {{category}}: we are on it. {{staff}}"
    created = await gql(
        client,
        create,
        forum.staff(),
        cid=forum.community_id,
        input={"title": "On it", "body": body},
    )
    saved = created["data"]["createSavedReply"]
    assert saved["variables"] == ["category", "member", "staff", "thread"]
    unknown = await gql(
        client,
        create,
        forum.staff(),
        cid=forum.community_id,
        input={"title": "X", "body": "{{nope}}"},
    )
    assert codes(unknown) == ["RULE_VIOLATION"]
    member = await gql(
        client, create, forum.member(), cid=forum.community_id, input={"title": "Y", "body": "Hi"}
    )
    assert codes(member) == ["FORBIDDEN"]
    listed = await gql(
        client,
        "query($cid: UUID!) { community(id: $cid) { savedReplies { items { title } nextCursor } } }",
        forum.staff(),
        cid=forum.community_id,
    )
    assert listed["data"]["community"]["savedReplies"] == {
        "items": [{"title": "On it"}],
        "nextCursor": None,
    }
    render = "mutation($id: UUID!, $tid: UUID) { renderSavedReply(id: $id, threadId: $tid) { body bodyHtml } }"
    rendered = await gql(client, render, forum.staff(), id=saved["id"], tid=thread["id"])
    text = "Hi Ada, about Lost my items in General: we are on it. moderator key"
    assert rendered["data"]["renderSavedReply"]["body"] == text
    missing = await gql(client, render, forum.staff(), id=saved["id"])
    assert codes(missing) == ["CONFLICT"]
    changed = await gql(
        client,
        'mutation($id: UUID!) { updateSavedReply(id: $id, input: {title: "Working on it"}) { title body } }',
        forum.staff(),
        id=saved["id"],
    )
    assert changed["data"]["updateSavedReply"] == {"title": "Working on it", "body": body}
    delete = "mutation($id: UUID!) { deleteSavedReply(id: $id) }"
    assert (await gql(client, delete, forum.staff(), id=saved["id"]))["data"]["deleteSavedReply"]
    read = "query($id: UUID!) { savedReply(id: $id) { id } }"
    assert codes(await gql(client, read, forum.staff(), id=saved["id"])) == ["NOT_FOUND"]


async def test_accepted_answers(client: httpx.AsyncClient, forum: Forum) -> None:
    ada, bob = forum.member("ada", "Ada"), forum.member("bob", "Bob")
    question = await new_thread(client, forum, ada)
    answer = (await reply(client, question["id"], bob, "Press M."))["data"]["createPost"]
    accept = (
        "mutation($id: UUID!, $on: Boolean!) { acceptPost(id: $id, accepted: $on) { isAnswer } }"
    )
    assert codes(await gql(client, accept, bob, id=answer["id"], on=True)) == ["FORBIDDEN"]
    accepted = await gql(client, accept, ada, id=answer["id"], on=True)
    assert accepted["data"]["acceptPost"] == {"isAnswer": True}
    thread = await gql(
        client,
        "query($id: UUID!) { thread(id: $id) { acceptedPost { body author { displayName } } firstPost { body } replyCount } }",
        bob,
        id=question["id"],
    )
    assert thread["data"]["thread"] == {
        "acceptedPost": {"body": "Press M.", "author": {"displayName": "Bob"}},
        "firstPost": {"body": "I looked everywhere."},
        "replyCount": 1,
    }
    withdrawn = await gql(client, accept, forum.staff(), id=answer["id"], on=False)
    assert withdrawn["data"]["acceptPost"] == {"isAnswer": False}
    discussion = await new_thread(client, forum, ada, kind="discussion", title="Screenshots")
    other = (await reply(client, discussion["id"], bob, "Nice"))["data"]["createPost"]
    assert codes(await gql(client, accept, ada, id=other["id"], on=True)) == ["CONFLICT"]


async def test_categories_can_be_changed_by_managers(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    change = """mutation($id: UUID!, $input: CategoryPatch!) {
      updateCategory(id: $id, input: $input) { name slug position } }"""
    renamed = await gql(
        client,
        change,
        forum.staff("manager"),
        id=forum.category_id,
        input={"name": "Lobby", "position": 2},
    )
    assert renamed["data"]["updateCategory"] == {"name": "Lobby", "slug": "general", "position": 2}
    invalid = await gql(
        client, change, forum.staff("manager"), id=forum.category_id, input={"slug": "No!"}
    )
    assert codes(invalid) == ["BAD_USER_INPUT"]
    await new_thread(client, forum, forum.member())
    delete = "mutation($id: UUID!) { deleteCategory(id: $id) }"
    for role, code in (("moderator", "FORBIDDEN"), ("manager", "CONFLICT")):
        refused = await gql(client, delete, forum.staff(role), id=forum.category_id)
        assert codes(refused) == [code]
    one = await gql(
        client,
        "query($id: UUID!) { category(id: $id) { name } }",
        forum.member(),
        id=forum.category_id,
    )
    assert one["data"]["category"] == {"name": "Lobby"}


async def test_members_and_erasure(client: httpx.AsyncClient, forum: Forum) -> None:
    ada = forum.member("ada", "Ada")
    thread = await new_thread(client, forum, ada)
    await reply(client, thread["id"], ada, "Anyone?")
    await reply(client, thread["id"], forum.member("bob", "Bob"), "No idea")
    members = """query($cid: UUID!, $q: String, $status: MemberStatus) {
      members(communityId: $cid, q: $q, status: $status, first: 10) {
        items { displayName externalId status postCount erased } nextCursor } }"""
    listed = await gql(client, members, forum.staff(), cid=forum.community_id)
    assert listed["data"]["members"] == {
        "items": [
            {
                "displayName": "Ada",
                "externalId": "ada",
                "status": "active",
                "postCount": 2,
                "erased": False,
            },
            {
                "displayName": "Bob",
                "externalId": "bob",
                "status": "active",
                "postCount": 1,
                "erased": False,
            },
        ],
        "nextCursor": None,
    }
    found = await gql(
        client, members, forum.staff(), cid=forum.community_id, q="AD", status="active"
    )
    assert [m["displayName"] for m in found["data"]["members"]["items"]] == ["Ada"]
    for headers in (forum.staff("analyst"), ada):
        assert codes(await gql(client, members, headers, cid=forum.community_id)) == ["FORBIDDEN"]

    ada_id = await member_id(client, forum, "Ada")
    one = await gql(
        client,
        "query($id: UUID!) { member(id: $id) { displayName postCount } }",
        forum.staff(),
        id=ada_id,
    )
    assert one["data"]["member"] == {"displayName": "Ada", "postCount": 2}
    export = "query($id: UUID!) { memberExport(id: $id) }"
    assert codes(await gql(client, export, forum.staff(), id=ada_id)) == ["FORBIDDEN"]
    exported = (await gql(client, export, forum.staff("manager"), id=ada_id))["data"]
    assert exported["memberExport"]["member"]["display_name"] == "Ada"
    assert len(exported["memberExport"]["posts"]) == 2
    erase = "mutation($id: UUID!) { eraseMember(id: $id) }"
    assert codes(await gql(client, erase, forum.staff("manager"), id=ada_id)) == ["FORBIDDEN"]
    erased = await gql(client, erase, forum.staff("owner"), id=ada_id)
    assert erased["data"]["eraseMember"] is True
    after = await gql(
        client,
        "query($id: UUID!) { thread(id: $id) { author { displayName isStaff } posts { items { author { displayName } } } } }",
        forum.staff(),
        id=thread["id"],
    )
    data = after["data"]["thread"]
    assert data["author"] == {"displayName": "deleted member", "isStaff": False}
    names = [p["author"]["displayName"] for p in data["posts"]["items"]]
    assert names == ["deleted member", "deleted member", "Bob"]
