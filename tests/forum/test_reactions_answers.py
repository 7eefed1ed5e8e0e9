"""Reactions and accepted answers over HTTP: idempotent PUT/DELETE, emoji forms, counts on
posts and threads; who may mark the answer of a question thread."""

from __future__ import annotations

import httpx
import pytest

from tests.forum.conftest import Forum, start_thread

ADA, BOB, CY = ("p1", "Ada"), ("p2", "Bob"), ("p3", "Cy")
THUMBS_UP = "\N{THUMBS UP SIGN}"
THUMBS_UP_URL = "%F0%9F%91%8D"
HEART = "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}"  # fully qualified, as stored


async def reply(
    client: httpx.AsyncClient, thread: dict, headers: dict, body: str = "Try X"
) -> dict:
    response = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def react(client: httpx.AsyncClient, post_id: str, emoji: str, headers: dict) -> dict:
    response = await client.put(f"/v1/posts/{post_id}/reactions/{emoji}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def get(client: httpx.AsyncClient, path: str, headers: dict) -> dict:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def accepted_post_id(client: httpx.AsyncClient, forum: Forum, thread: dict) -> str | None:
    return (await get(client, f"/v1/threads/{thread['id']}", forum.member()))["accepted_post_id"]


@pytest.fixture
async def thread(client: httpx.AsyncClient, forum: Forum) -> dict:
    return await start_thread(client, forum, forum.member(*ADA), kind="question")


# --- reactions ----------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_reacting_twice_counts_once(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    post_id = thread["first_post_id"]
    first = await react(client, post_id, "thumbsup", forum.member(*BOB))
    assert first == {"post_id": post_id, "reactions": {THUMBS_UP: 1}}
    second = await react(client, post_id, "thumbsup", forum.member(*BOB))
    assert second == first
    post = await get(client, f"/v1/posts/{post_id}", forum.member(*ADA))
    assert post["reactions"] == {THUMBS_UP: 1}


@pytest.mark.both_backends
async def test_members_and_staff_each_count(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    post_id = thread["first_post_id"]
    await react(client, post_id, "thumbsup", forum.member(*BOB))
    both = await react(client, post_id, "thumbsup", forum.member(*CY))
    assert both["reactions"] == {THUMBS_UP: 2}
    staff = await react(client, post_id, "thumbsup", forum.staff("moderator"))
    assert staff["reactions"] == {THUMBS_UP: 3}
    mixed = await react(client, post_id, "heart", forum.member(*ADA))
    assert mixed["reactions"] == {THUMBS_UP: 3, HEART: 1}


@pytest.mark.both_backends
async def test_delete_takes_a_reaction_back(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    post_id = thread["first_post_id"]
    await react(client, post_id, "thumbsup", forum.member(*BOB))
    await react(client, post_id, "thumbsup", forum.member(*CY))
    path = f"/v1/posts/{post_id}/reactions/thumbsup"
    assert (await client.delete(path, headers=forum.member(*BOB))).status_code == 204
    post = await get(client, f"/v1/posts/{post_id}", forum.member())
    assert post["reactions"] == {THUMBS_UP: 1}
    assert (await client.delete(path, headers=forum.member(*CY))).status_code == 204
    post = await get(client, f"/v1/posts/{post_id}", forum.member())
    assert post["reactions"] == {}


async def test_deleting_a_reaction_never_given_changes_nothing(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    post_id = thread["first_post_id"]
    await react(client, post_id, "thumbsup", forum.member(*BOB))
    for emoji, headers in (("thumbsup", forum.member(*CY)), ("heart", forum.member(*BOB))):
        response = await client.delete(f"/v1/posts/{post_id}/reactions/{emoji}", headers=headers)
        assert response.status_code == 204
    post = await get(client, f"/v1/posts/{post_id}", forum.member())
    assert post["reactions"] == {THUMBS_UP: 1}
    staff = await client.delete(
        f"/v1/posts/{post_id}/reactions/thumbsup", headers=forum.staff("moderator")
    )
    assert staff.status_code == 204
    thread_now = await get(client, f"/v1/threads/{thread['id']}", forum.member())
    assert thread_now["reaction_count"] == 1


@pytest.mark.both_backends
async def test_every_spelling_of_an_emoji_is_one_reaction(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    post_id = thread["first_post_id"]
    # A shortcode, an alias, the CLDR name and the character (URL-encoded or not): one key.
    first = await react(client, post_id, "thumbsup", forum.member(*BOB))
    assert first["reactions"] == {THUMBS_UP: 1}
    for spelling in ("+1", "thumbs_up", THUMBS_UP_URL, THUMBS_UP):
        again = await react(client, post_id, spelling, forum.member(*BOB))
        assert again["reactions"] == {THUMBS_UP: 1}, spelling
    other = await react(client, post_id, "+1", forum.member(*CY))
    assert other["reactions"] == {THUMBS_UP: 2}
    # A heart without its variation selector is the same heart.
    heart = await react(client, post_id, "%E2%9D%A4", forum.member(*CY))
    assert heart["reactions"] == {THUMBS_UP: 2, HEART: 1}
    path = f"/v1/posts/{post_id}/reactions/{THUMBS_UP_URL}"
    assert (await client.delete(path, headers=forum.member(*CY))).status_code == 204
    assert (
        await client.delete(f"/v1/posts/{post_id}/reactions/heart", headers=forum.member(*CY))
    ).status_code == 204
    post = await get(client, f"/v1/posts/{post_id}", forum.member())
    assert post["reactions"] == {THUMBS_UP: 1}


@pytest.mark.parametrize(
    "emoji",
    ["notanemoji", "a%20b", "a" * 40, "ThumbsUp", "x%3Cscript%3E", "%F0%9F%91%8Dab", ":+1:"],
)
async def test_invalid_emoji_is_422(
    client: httpx.AsyncClient, forum: Forum, thread: dict, emoji: str
) -> None:
    path = f"/v1/posts/{thread['first_post_id']}/reactions/{emoji}"
    response = await client.put(path, headers=forum.member(*BOB))
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "emoji"]
    assert (await client.delete(path, headers=forum.member(*BOB))).status_code == 422
    post = await get(client, f"/v1/posts/{thread['first_post_id']}", forum.member())
    assert post["reactions"] == {}


async def test_a_removed_post_takes_no_reactions(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    removed = await reply(client, thread, forum.member(*BOB))
    path = f"/v1/posts/{removed['id']}"
    assert (await client.delete(path, headers=forum.staff("moderator"))).status_code == 204
    for headers in (forum.member(*BOB), forum.staff("moderator")):  # they still see it
        response = await client.put(f"{path}/reactions/thumbsup", headers=headers)
        assert response.status_code == 403
    hidden = await client.put(f"{path}/reactions/thumbsup", headers=forum.member(*CY))
    assert hidden.status_code == 404  # other members do not see it at all
    assert (await get(client, path, forum.staff("viewer")))["reactions"] == {}


async def test_reading_staff_and_other_orgs_cannot_react(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum, thread: dict
) -> None:
    path = f"/v1/posts/{thread['first_post_id']}/reactions/thumbsup"
    assert (await client.put(path, headers=forum.staff("viewer"))).status_code == 403
    assert (await client.put(path, headers=forum.staff("analyst"))).status_code == 403
    assert (await client.put(path, headers=other_forum.staff("owner"))).status_code == 404
    assert (await client.put(path, headers=other_forum.member())).status_code == 404
    post = await get(client, f"/v1/posts/{thread['first_post_id']}", forum.member())
    assert post["reactions"] == {}


@pytest.mark.both_backends
async def test_the_threads_reaction_count_follows(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    answer = await reply(client, thread, forum.member(*BOB))
    await react(client, thread["first_post_id"], "thumbsup", forum.member(*BOB))
    await react(client, answer["id"], "thumbsup", forum.member(*ADA))
    await react(client, answer["id"], "heart", forum.member(*ADA))
    await react(client, answer["id"], "heart", forum.member(*ADA))  # no change
    path = f"/v1/threads/{thread['id']}"
    assert (await get(client, path, forum.member()))["reaction_count"] == 3
    gone = await client.delete(
        f"/v1/posts/{answer['id']}/reactions/heart", headers=forum.member(*ADA)
    )
    assert gone.status_code == 204
    assert (await get(client, path, forum.member()))["reaction_count"] == 2


@pytest.mark.both_backends
async def test_reactions_lift_a_thread_in_the_top_sort(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    newer = await start_thread(client, forum, forum.member(*BOB), title="Newer thread")
    await reply(client, newer, forum.staff("moderator"))  # one reply: ahead for now
    listed = f"/v1/communities/{forum.community_id}/threads?sort=top"
    before = await get(client, listed, forum.member())
    assert [t["id"] for t in before["items"]] == [newer["id"], thread["id"]]
    await react(client, thread["first_post_id"], "heart", forum.member(*CY))
    await react(client, thread["first_post_id"], "thumbsup", forum.member(*BOB))
    after = await get(client, listed, forum.member())
    assert [t["id"] for t in after["items"]] == [thread["id"], newer["id"]]


# --- accepted answers ------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_the_thread_author_accepts_and_moves_the_answer(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    first = await reply(client, thread, forum.member(*BOB), "Try settings.")
    second = await reply(client, thread, forum.member(*CY), "Use the launcher.")
    accepted = await client.post(f"/v1/posts/{first['id']}/accept", headers=forum.member(*ADA))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["id"] == first["id"] and accepted.json()["is_answer"] is True
    path = f"/v1/threads/{thread['id']}"
    assert (await get(client, path, forum.member()))["accepted_post_id"] == first["id"]

    moved = await client.post(f"/v1/posts/{second['id']}/accept", headers=forum.member(*ADA))
    assert moved.status_code == 200 and moved.json()["is_answer"] is True
    assert (await get(client, path, forum.member()))["accepted_post_id"] == second["id"]
    assert (await get(client, f"/v1/posts/{first['id']}", forum.member()))["is_answer"] is False
    again = await client.post(f"/v1/posts/{second['id']}/accept", headers=forum.member(*ADA))
    assert again.status_code == 200 and again.json()["is_answer"] is True


@pytest.mark.both_backends
async def test_withdrawing_the_answer(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    answer = await reply(client, thread, forum.member(*BOB))
    await client.post(f"/v1/posts/{answer['id']}/accept", headers=forum.member(*ADA))
    withdrawn = await client.delete(f"/v1/posts/{answer['id']}/accept", headers=forum.member(*ADA))
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["is_answer"] is False
    assert await accepted_post_id(client, forum, thread) is None


async def test_another_member_cannot_accept(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    answer = await reply(client, thread, forum.member(*BOB))
    for headers in (forum.member(*BOB), forum.member(*CY), forum.staff("viewer")):
        refused = await client.post(f"/v1/posts/{answer['id']}/accept", headers=headers)
        assert refused.status_code == 403
    await client.post(f"/v1/posts/{answer['id']}/accept", headers=forum.member(*ADA))
    withdraw = await client.delete(f"/v1/posts/{answer['id']}/accept", headers=forum.member(*CY))
    assert withdraw.status_code == 403
    assert (await get(client, f"/v1/posts/{answer['id']}", forum.member()))["is_answer"] is True


async def test_a_moderator_may_accept_and_withdraw(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    answer = await reply(client, thread, forum.staff("moderator"), "Official fix: relog.")
    accepted = await client.post(
        f"/v1/posts/{answer['id']}/accept", headers=forum.staff("moderator")
    )
    assert accepted.status_code == 200 and accepted.json()["is_answer"] is True
    path = f"/v1/threads/{thread['id']}"
    assert (await get(client, path, forum.member()))["accepted_post_id"] == answer["id"]
    withdrawn = await client.delete(
        f"/v1/posts/{answer['id']}/accept", headers=forum.staff("manager")
    )
    assert withdrawn.status_code == 200
    assert (await get(client, path, forum.member()))["accepted_post_id"] is None


async def test_only_question_threads_have_answers(client: httpx.AsyncClient, forum: Forum) -> None:
    talk = await start_thread(client, forum, forum.member(*ADA), kind="discussion")
    answer = await reply(client, talk, forum.member(*BOB))
    for headers in (forum.member(*ADA), forum.staff("moderator")):
        refused = await client.post(f"/v1/posts/{answer['id']}/accept", headers=headers)
        assert refused.status_code == 409  # the thread's kind, not the request, is the obstacle
    assert await accepted_post_id(client, forum, talk) is None


async def test_the_opening_post_cannot_be_the_answer(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    path = f"/v1/posts/{thread['first_post_id']}/accept"
    assert (await client.post(path, headers=forum.member(*ADA))).status_code == 409
    assert (await client.post(path, headers=forum.staff("moderator"))).status_code == 409
    post = await get(client, f"/v1/posts/{thread['first_post_id']}", forum.member())
    assert post["is_answer"] is False


@pytest.mark.both_backends
async def test_removing_the_answer_clears_the_mark(
    client: httpx.AsyncClient, forum: Forum, thread: dict
) -> None:
    answer = await reply(client, thread, forum.member(*BOB))
    await client.post(f"/v1/posts/{answer['id']}/accept", headers=forum.member(*ADA))
    assert (
        await client.delete(f"/v1/posts/{answer['id']}", headers=forum.staff("moderator"))
    ).status_code == 204
    assert await accepted_post_id(client, forum, thread) is None
    again = await client.post(f"/v1/posts/{answer['id']}/accept", headers=forum.staff("moderator"))
    assert again.status_code == 409  # a removed post cannot be the answer
