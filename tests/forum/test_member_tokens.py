"""Member tokens over HTTP: who a JWT makes you, and every way a token is refused.

Tokens that must be refused are built by hand (base64url header.payload.signature), so the
test does not depend on the JWT library that the app itself uses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest

from tests.conftest import Org
from tests.forum.conftest import MEMBER_SECRET, Forum, make_forum, member_token, start_thread

OTHER_SECRET = "another-member-secret-that-is-32-chars-long"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hand_token(
    header: dict[str, Any], payload: dict[str, Any], secret: str | None, digest: Any = None
) -> str:
    """A compact JWS: with `secret` it is signed with HMAC-`digest`; without, unsigned."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret.encode(), signing_input.encode(), digest or hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def claims(forum: Forum, **overrides: Any) -> dict[str, Any]:
    values = {
        "sub": "player-1",
        "name": "Ada",
        "aud": forum.community_id,
        "exp": int(time.time()) + 600,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def threads_of(client: httpx.AsyncClient, forum: Forum, headers: dict[str, str]):
    return await client.get(f"/v1/communities/{forum.community_id}/threads", headers=headers)


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    body = response.json()
    assert body["status"] == 401 and body["detail"]


async def member_of(client: httpx.AsyncClient, forum: Forum, member_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/members/{member_id}", headers=forum.staff("moderator"))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.both_backends
async def test_first_token_creates_the_member_and_a_later_one_renames_them(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    thread = await start_thread(client, forum, forum.member("player-1", "Ada"))
    author = thread["author"]
    assert author["display_name"] == "Ada" and author["is_staff"] is False
    member = await member_of(client, forum, author["id"])
    assert member["external_id"] == "player-1"
    assert member["display_name"] == "Ada"
    assert member["community_id"] == forum.community_id
    assert member["status"] == "active" and member["erased"] is False

    renamed = await threads_of(client, forum, forum.member("player-1", "Ada Lovelace"))
    assert renamed.status_code == 200
    again = await member_of(client, forum, author["id"])
    assert again["display_name"] == "Ada Lovelace"
    assert again["id"] == member["id"] and again["joined_at"] == member["joined_at"]
    # The byline follows the member's current name.
    fetched = await client.get(f"/v1/threads/{thread['id']}", headers=forum.staff("viewer"))
    assert fetched.json()["author"]["display_name"] == "Ada Lovelace"
    listed = await client.get(
        f"/v1/communities/{forum.community_id}/members", headers=forum.staff("moderator")
    )
    assert [m["external_id"] for m in listed.json()["items"]] == ["player-1"]


async def test_control_characters_are_stripped_from_the_name(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    thread = await start_thread(client, forum, forum.member("p-ctl", "Ad\u202ea\x00 "))
    assert thread["author"]["display_name"] == "Ada"


async def test_an_expired_token_is_refused_but_the_leeway_is_honoured(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    expired = await threads_of(client, forum, forum.member(expires_in=-120))
    assert_unauthenticated(expired)
    assert "expired" in expired.json()["detail"]
    # Expired 10 s ago: within the 30 s leeway for clock skew.
    assert (await threads_of(client, forum, forum.member(expires_in=-10))).status_code == 200


async def test_a_token_signed_with_another_secret_is_refused(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    response = await threads_of(client, forum, forum.member(secret=OTHER_SECRET))
    assert_unauthenticated(response)
    assert "signature" in response.json()["detail"]


async def test_unsigned_alg_none_tokens_are_refused(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    for alg in ("none", "None", "NONE"):
        token = hand_token({"alg": alg, "typ": "JWT"}, claims(forum), None)
        assert_unauthenticated(await threads_of(client, forum, bearer(token)))
    # A valid HS256 signature pasted under an `alg: none` header does not help either.
    good = forum.member()["Authorization"].removeprefix("Bearer ")
    signature = good.rsplit(".", 1)[1]
    forged = hand_token({"alg": "none", "typ": "JWT"}, claims(forum), None) + signature
    assert_unauthenticated(await threads_of(client, forum, bearer(forged)))


@pytest.mark.parametrize(("alg", "digest"), [("HS512", hashlib.sha512), ("HS384", hashlib.sha384)])
async def test_other_hmac_algorithms_are_refused_even_with_the_right_secret(
    client: httpx.AsyncClient, forum: Forum, alg: str, digest: Any
) -> None:
    token = hand_token({"alg": alg, "typ": "JWT"}, claims(forum), MEMBER_SECRET, digest)
    assert_unauthenticated(await threads_of(client, forum, bearer(token)))
    # The same claims with HS256 and the same secret are accepted: only the alg differs.
    accepted = hand_token({"alg": "HS256", "typ": "JWT"}, claims(forum), MEMBER_SECRET)
    assert (await threads_of(client, forum, bearer(accepted))).status_code == 200


async def test_an_rs256_header_is_refused(client: httpx.AsyncClient, forum: Forum) -> None:
    token = hand_token({"alg": "RS256", "typ": "JWT"}, claims(forum), MEMBER_SECRET)
    assert_unauthenticated(await threads_of(client, forum, bearer(token)))


@pytest.mark.parametrize("missing", ["exp", "sub", "aud", "name"])
async def test_a_token_missing_a_claim_is_refused(
    client: httpx.AsyncClient, forum: Forum, missing: str
) -> None:
    token = hand_token(
        {"alg": "HS256", "typ": "JWT"}, claims(forum, **{missing: None}), MEMBER_SECRET
    )
    assert_unauthenticated(await threads_of(client, forum, bearer(token)))


@pytest.mark.parametrize(
    "bad",
    [
        {"name": ""},
        {"name": "   "},
        {"name": 42},
        {"sub": ""},
        {"sub": "x" * 256},
        {"sub": 12345},
        {"aud": "not-a-uuid"},
        {"aud": "00000000-0000-0000-0000-000000000000"},
        {"exp": "tomorrow"},
    ],
)
async def test_a_token_with_a_bad_claim_is_refused(
    client: httpx.AsyncClient, forum: Forum, bad: dict[str, Any]
) -> None:
    token = hand_token({"alg": "HS256", "typ": "JWT"}, claims(forum, **bad), MEMBER_SECRET)
    assert_unauthenticated(await threads_of(client, forum, bearer(token)))


async def test_a_token_living_longer_than_the_maximum_is_refused(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    response = await threads_of(client, forum, forum.member(expires_in=86400 + 3600))
    assert_unauthenticated(response)
    assert "too long" in response.json()["detail"]
    assert (await threads_of(client, forum, forum.member(expires_in=86000))).status_code == 200


@pytest.mark.parametrize("token", ["a.b.c", "....", "x.y", "eyJhbGciOiJIUzI1NiJ9.e30"])
async def test_malformed_tokens_are_refused(
    client: httpx.AsyncClient, forum: Forum, token: str
) -> None:
    assert_unauthenticated(await threads_of(client, forum, bearer(token)))


async def test_a_community_without_a_member_secret_accepts_no_tokens(
    client: httpx.AsyncClient, forum: Forum, org: Org
) -> None:
    created = await client.post(
        "/v1/communities", json={"slug": "nosecret", "name": "No"}, headers=org.auth("manager")
    )
    community_id = created.json()["id"]
    token = member_token(community_id, "player-1")
    response = await client.get(f"/v1/communities/{community_id}/threads", headers=bearer(token))
    assert_unauthenticated(response)
    assert "does not accept member tokens" in response.json()["detail"]


async def second_forum(client: httpx.AsyncClient, org: Org, slug: str) -> Forum:
    """Another community whose member secret differs from the first forum's."""
    other = await make_forum(client, org, slug)
    changed = await client.put(
        f"/v1/communities/{other.community_id}/member-secret",
        json={"secret": OTHER_SECRET},
        headers=org.auth("owner"),
    )
    assert changed.status_code == 204, changed.text
    return other


@pytest.mark.parametrize("same_org", [True, False], ids=["same-org", "other-org"])
async def test_a_token_of_another_community_cannot_touch_this_one(
    client: httpx.AsyncClient, forum: Forum, other_org: Org, same_org: bool
) -> None:
    other = await second_forum(client, forum.org if same_org else other_org, "elsewhere")
    thread = await start_thread(client, forum, forum.member("native"))
    post_id = thread["first_post_id"]
    outsider = other.member("player-1", secret=OTHER_SECRET)
    assert (await threads_of(client, other, outsider)).status_code == 200

    cid, tid = forum.community_id, thread["id"]
    attempts = [
        client.get(f"/v1/communities/{cid}/threads", headers=outsider),
        client.get(f"/v1/communities/{cid}/categories", headers=outsider),
        client.get(f"/v1/threads/{tid}", headers=outsider),
        client.get(f"/v1/threads/{tid}/posts", headers=outsider),
        client.get(f"/v1/posts/{post_id}", headers=outsider),
        client.post(f"/v1/threads/{tid}/posts", json={"body": "hi"}, headers=outsider),
        client.patch(f"/v1/posts/{post_id}", json={"body": "mine"}, headers=outsider),
        client.delete(f"/v1/posts/{post_id}", headers=outsider),
        client.put(f"/v1/posts/{post_id}/reactions/thumbsup", headers=outsider),
        client.post(
            f"/v1/communities/{cid}/threads",
            json={"category_id": forum.category_id, "title": "Hello", "body": "x"},
            headers=outsider,
        ),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, (response.request.url, response.text)
    post = await client.get(f"/v1/posts/{post_id}", headers=forum.staff("viewer"))
    assert post.json()["body"] == "I can't find the button."
    assert post.json()["reactions"] == {} and post.json()["status"] == "visible"


async def test_a_token_for_this_community_signed_with_another_communitys_secret_is_refused(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    await second_forum(client, forum.org, "elsewhere")
    response = await threads_of(client, forum, forum.member(secret=OTHER_SECRET))
    assert_unauthenticated(response)


async def test_a_member_token_cannot_call_staff_endpoints(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    member = forum.member()
    cid = forum.community_id
    refused = [
        await client.get("/v1/org", headers=member),
        await client.get("/v1/platform-profiles", headers=member),
        await client.get("/v1/communities", headers=member),
        await client.get(f"/v1/communities/{cid}", headers=member),
        await client.post(
            "/v1/webhooks",
            json={"url": "https://example.com/hook", "events": ["*"]},
            headers=member,
        ),
        await client.get("/v1/webhooks", headers=member),
        await client.post("/v1/api-keys", json={"name": "sneaky", "role": "owner"}, headers=member),
        await client.get(f"/v1/communities/{cid}/members", headers=member),
        await client.get(f"/v1/communities/{cid}/inbox", headers=member),
        await client.post(
            f"/v1/communities/{cid}/categories",
            json={"name": "Mine", "slug": "mine"},
            headers=member,
        ),
    ]
    for response in refused:
        assert response.status_code == 403, (response.request.url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_api_keys_still_work_next_to_member_tokens(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    await start_thread(client, forum, forum.member())
    for role in ("owner", "viewer"):
        response = await threads_of(client, forum, forum.staff(role))
        assert response.status_code == 200
        assert len(response.json()["items"]) == 1
    staff = await start_thread(client, forum, forum.staff("moderator"), title="Patch notes")
    assert staff["author"]["is_staff"] is True
    assert staff["author"]["display_name"] == "moderator key"
    bad_key = await threads_of(client, forum, bearer("hk_not_a_real_key"))
    assert_unauthenticated(bad_key)
    assert_unauthenticated(await threads_of(client, forum, {}))


@pytest.mark.both_backends
async def test_a_new_member_secret_stops_old_tokens_at_once(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    """Even a token checked a moment ago (and cached) is refused once the secret changes."""
    member = forum.member()
    path = f"/v1/communities/{forum.community_id}/threads"
    assert (await client.get(path, headers=member)).status_code == 200
    rotated = await client.put(
        f"/v1/communities/{forum.community_id}/member-secret",
        json={"secret": "a-brand-new-secret-of-at-least-32-characters"},
        headers=forum.staff("owner"),
    )
    assert rotated.status_code == 204
    assert (await client.get(path, headers=member)).status_code == 401
