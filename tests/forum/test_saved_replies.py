"""Saved replies over HTTP: CRUD and roles, variables, rendering for a thread or a member,
and that whatever the variables hold cannot inject HTML."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from tests.forum.conftest import Forum, make_forum, start_thread

EVERYTHING = (
    "Hi {{member}}, thanks for asking about **{{thread}}** in {{ category }}. "
    "Welcome to {{community}}! — {{staff}}"
)


async def create(
    client: httpx.AsyncClient, forum: Forum, title: str, body: str, role: str = "moderator"
) -> httpx.Response:
    return await client.post(
        f"/v1/communities/{forum.community_id}/saved-replies",
        json={"title": title, "body": body},
        headers=forum.staff(role),
    )


async def saved(client: httpx.AsyncClient, forum: Forum, title: str, body: str) -> dict[str, Any]:
    response = await create(client, forum, title, body)
    assert response.status_code == 201, response.text
    return response.json()


async def render(
    client: httpx.AsyncClient, forum: Forum, reply: dict, role: str = "moderator", **context: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/saved-replies/{reply['id']}/render",
        json={k: str(v) for k, v in context.items()},
        headers=forum.staff(role),
    )


@pytest.mark.both_backends
async def test_moderators_create_read_update_and_delete(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    response = await create(client, forum, "Welcome", "Hi {{member}}, see {{thread}}.")
    assert response.status_code == 201, response.text
    reply = response.json()
    assert response.headers["location"] == f"/v1/saved-replies/{reply['id']}"
    assert reply["title"] == "Welcome" and reply["community_id"] == forum.community_id
    assert reply["variables"] == ["member", "thread"]
    one = f"/v1/saved-replies/{reply['id']}"
    assert (await client.get(one, headers=forum.staff())).json() == reply

    await saved(client, forum, "Apology", "Sorry about that, {{member}}.")
    listed = await client.get(
        f"/v1/communities/{forum.community_id}/saved-replies", headers=forum.staff()
    )
    assert [r["title"] for r in listed.json()["items"]] == ["Apology", "Welcome"]  # by title

    patched = await client.patch(
        one, json={"body": "{{staff}} here, {{community}} team."}, headers=forum.staff()
    )
    assert patched.status_code == 200
    assert patched.json()["variables"] == ["community", "staff"]
    assert patched.json()["title"] == "Welcome"
    assert patched.json()["updated_at"] >= reply["updated_at"]
    renamed = await client.patch(one, json={"title": "Hello"}, headers=forum.staff())
    assert renamed.json()["title"] == "Hello"
    assert (await client.patch(one, json={"title": None}, headers=forum.staff())).status_code == 422

    assert (await client.delete(one, headers=forum.staff())).status_code == 204
    assert (await client.get(one, headers=forum.staff())).status_code == 404
    assert (await client.delete(one, headers=forum.staff())).status_code == 404


@pytest.mark.both_backends
async def test_titles_are_unique_per_community(client: httpx.AsyncClient, forum: Forum) -> None:
    await saved(client, forum, "Welcome", "Hi!")
    duplicate = await create(client, forum, "Welcome", "Hello again")
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"].startswith("application/problem+json")
    other = await saved(client, forum, "Other", "Hi")
    clash = await client.patch(
        f"/v1/saved-replies/{other['id']}", json={"title": "Welcome"}, headers=forum.staff()
    )
    assert clash.status_code == 409
    # Another community of the same org may use the same title.
    second = await make_forum(client, forum.org, "second")
    assert (await create(client, second, "Welcome", "Hi!")).status_code == 201


@pytest.mark.parametrize(
    "body", ["Hi {{name}}", "{{member}} and {{ secret_key }}", "{{__class__}}"]
)
async def test_unknown_variables_are_refused(
    client: httpx.AsyncClient, forum: Forum, body: str
) -> None:
    refused = await create(client, forum, "Bad", body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["body", "body"]
    reply = await saved(client, forum, "Good", "Hi {{member}}")
    patched = await client.patch(
        f"/v1/saved-replies/{reply['id']}", json={"body": body}, headers=forum.staff()
    )
    assert patched.status_code == 422
    unchanged = await client.get(f"/v1/saved-replies/{reply['id']}", headers=forum.staff())
    assert unchanged.json()["body"] == "Hi {{member}}"


async def test_saved_replies_are_for_moderators_of_the_org(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    reply = await saved(client, forum, "Welcome", "Hi {{community}}")
    cid, one = forum.community_id, f"/v1/saved-replies/{reply['id']}"
    member = forum.member()
    for headers in (forum.staff("analyst"), forum.staff("viewer"), member):
        attempts = [
            client.post(
                f"/v1/communities/{cid}/saved-replies",
                json={"title": "Mine", "body": "x"},
                headers=headers,
            ),
            client.get(f"/v1/communities/{cid}/saved-replies", headers=headers),
            client.get(one, headers=headers),
            client.patch(one, json={"title": "Taken"}, headers=headers),
            client.post(f"{one}/render", json={}, headers=headers),
            client.delete(one, headers=headers),
        ]
        for attempt in attempts:
            response = await attempt
            assert response.status_code == 403, (response.request.url, response.text)
    rival = other_forum.staff("owner")
    for attempt in (
        client.get(one, headers=rival),
        client.patch(one, json={"title": "Taken"}, headers=rival),
        client.post(f"{one}/render", json={}, headers=rival),
        client.delete(one, headers=rival),
        client.get(f"/v1/communities/{cid}/saved-replies", headers=rival),
        client.post(
            f"/v1/communities/{cid}/saved-replies", json={"title": "x", "body": "y"}, headers=rival
        ),
    ):
        assert (await attempt).status_code == 404
    still = await client.get(one, headers=forum.staff("manager"))
    assert still.json()["title"] == "Welcome"
    listed = await client.get(f"/v1/communities/{cid}/saved-replies", headers=forum.staff())
    assert [r["title"] for r in listed.json()["items"]] == ["Welcome"]


@pytest.mark.both_backends
async def test_rendering_for_a_thread_fills_every_variable(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    thread = await start_thread(client, forum, forum.member("ada", "Ada"), title="Lost my ship")
    reply = await saved(client, forum, "Everything", EVERYTHING)
    assert reply["variables"] == ["category", "community", "member", "staff", "thread"]
    response = await render(client, forum, reply, thread_id=thread["id"])
    assert response.status_code == 200, response.text
    rendered = response.json()
    assert rendered["body"] == (
        "Hi Ada, thanks for asking about **Lost my ship** in General. "
        "Welcome to Starfall! — moderator key"
    )
    assert "<strong>Lost my ship</strong>" in rendered["body_html"]
    as_manager = await render(client, forum, reply, "manager", thread_id=thread["id"])
    assert as_manager.json()["body"].endswith("— manager key")
    # The reply itself is unchanged: rendering fills a copy.
    stored = await client.get(f"/v1/saved-replies/{reply['id']}", headers=forum.staff())
    assert stored.json()["body"] == EVERYTHING


async def test_member_id_overrides_the_threads_author(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    thread = await start_thread(client, forum, forum.member("ada", "Ada"))
    bob = await start_thread(client, forum, forum.member("bob", "Bob"), title="Bob's thread")
    reply = await saved(client, forum, "Greeting", "Hello {{member}} from {{community}}")
    both = await render(client, forum, reply, thread_id=thread["id"], member_id=bob["author"]["id"])
    assert both.json()["body"] == "Hello Bob from Starfall"
    only_member = await render(client, forum, reply, member_id=bob["author"]["id"])
    assert only_member.json()["body"] == "Hello Bob from Starfall"
    no_vars = await saved(client, forum, "Plain", "We are on it.")
    assert (await render(client, forum, no_vars)).json()["body"] == "We are on it."


async def test_missing_or_foreign_context_is_refused(
    client: httpx.AsyncClient, forum: Forum, other_forum: Forum
) -> None:
    reply = await saved(client, forum, "Everything", EVERYTHING)
    # What the reply's text needs and the request lacks: a conflict with the reply.
    missing = await render(client, forum, reply)
    assert missing.status_code == 409
    assert missing.json()["errors"][0]["loc"] == ["body", "thread_id"]
    member_only = await saved(client, forum, "Member", "Hi {{member}}")
    needs_member = await render(client, forum, member_only)
    assert needs_member.status_code == 409
    assert needs_member.json()["errors"][0]["loc"] == ["body", "member_id"]
    # A staff thread has no member to greet.
    staff_thread = await start_thread(client, forum, forum.staff(), title="Announcement")
    no_author = await render(client, forum, member_only, thread_id=staff_thread["id"])
    assert no_author.status_code == 409

    second = await make_forum(client, forum.org, "second")
    elsewhere = await start_thread(client, second, second.member("ada", "Ada"))
    # Another community's thread or member is not found for this reply, like another org's.
    other_thread = await render(client, forum, reply, thread_id=elsewhere["id"])
    assert other_thread.status_code == 404
    assert other_thread.json()["errors"][0]["loc"] == ["body", "thread_id"]
    other_member = await render(client, forum, member_only, member_id=elsewhere["author"]["id"])
    assert other_member.status_code == 404
    assert other_member.json()["errors"][0]["loc"] == ["body", "member_id"]

    # Another org's thread or member is not found for this org.
    rival_thread = await start_thread(client, other_forum, other_forum.member("eve", "Eve"))
    assert (await render(client, forum, reply, thread_id=rival_thread["id"])).status_code == 404
    rival_member = await render(client, forum, member_only, member_id=rival_thread["author"]["id"])
    assert rival_member.status_code == 404
    assert (await render(client, forum, reply, thread_id=uuid.uuid4())).status_code == 404
    unknown = {"id": str(uuid.uuid4())}
    assert (await render(client, forum, unknown, thread_id=staff_thread["id"])).status_code == 404


class Html(HTMLParser):
    """The elements, attributes and visible text of a fragment."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


@pytest.mark.parametrize(
    "name",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[free gold](https://phish.example)",
        "Eve](javascript:alert(1)) [x",
        "![x](https://evil.example/t.png)",
        "**Official** _staff_ `code`",
        "<https://phish.example>",
    ],
)
async def test_a_members_name_cannot_inject_html_or_markdown(
    client: httpx.AsyncClient, forum: Forum, name: str
) -> None:
    title = "<b>Title</b> [link](https://phish.example)"
    thread = await start_thread(client, forum, forum.member("eve", name), title=title)
    reply = await saved(
        client, forum, "Link", "Hi [{{member}}](https://ok.example/u), re {{thread}}"
    )
    rendered = (await render(client, forum, reply, thread_id=thread["id"])).json()
    html = Html(rendered["body_html"])
    # The only element is the link the saved reply itself holds; the name and the title
    # show as the text they are.
    assert html.elements == [
        ("p", {}),
        ("a", {"href": "https://ok.example/u", "rel": "nofollow ugc noopener"}),
    ]
    assert html.text.strip() == f"Hi {name}, re {title}"
    # Posting the rendered body shows the same text.
    posted = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": rendered["body"]}, headers=forum.staff()
    )
    assert posted.json()["body_html"] == rendered["body_html"]


async def test_values_are_filled_once_not_expanded_again(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    thread = await start_thread(client, forum, forum.member("tricky", "{{staff}}"), title="{{x}}")
    reply = await saved(client, forum, "Echo", "{{member}} / {{thread}} / {{staff}}")
    rendered = await render(client, forum, reply, thread_id=thread["id"])
    assert rendered.json()["body"] == "{{staff}} / {{x}} / moderator key"
