"""Forum fixtures: a community that accepts member tokens, a category, and token makers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import Org

MEMBER_SECRET = "a-member-secret-of-at-least-32-characters!"


def member_token(
    community_id: str,
    sub: str,
    name: str = "Ada",
    *,
    secret: str = MEMBER_SECRET,
    expires_in: float = 600,
    **claims: Any,
) -> str:
    payload = {"sub": sub, "name": name, "aud": community_id, "exp": int(time.time() + expires_in)}
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm="HS256")


@dataclass
class Forum:
    org: Org
    community_id: str
    category_id: str

    def member(self, sub: str = "player-1", name: str = "Ada", **kwargs: Any) -> dict[str, str]:
        """Authorization headers for a member of this forum's community."""
        token = member_token(self.community_id, sub, name, **kwargs)
        return {"Authorization": f"Bearer {token}"}

    def staff(self, role: str = "moderator") -> dict[str, str]:
        return self.org.auth(role)


async def make_forum(client: httpx.AsyncClient, org: Org, slug: str = "starfall") -> Forum:
    created = await client.post(
        "/v1/communities",
        json={"slug": slug, "name": slug.title()},
        headers=org.auth("manager"),
    )
    assert created.status_code == 201, created.text
    community_id = created.json()["id"]
    secret = await client.put(
        f"/v1/communities/{community_id}/member-secret",
        json={"secret": MEMBER_SECRET},
        headers=org.auth("owner"),
    )
    assert secret.status_code == 204, secret.text
    category = await client.post(
        f"/v1/communities/{community_id}/categories",
        json={"name": "General", "slug": "general"},
        headers=org.auth("manager"),
    )
    assert category.status_code == 201, category.text
    return Forum(org, community_id, category.json()["id"])


@pytest.fixture
async def forum(client: httpx.AsyncClient, org: Org) -> Forum:
    return await make_forum(client, org)


@pytest.fixture
async def other_forum(client: httpx.AsyncClient, other_org: Org) -> Forum:
    return await make_forum(client, other_org, "rival")


async def start_thread(
    client: httpx.AsyncClient,
    forum: Forum,
    headers: dict[str, str],
    *,
    title: str = "How do I link my account?",
    body: str = "I can't find the button.",
    kind: str = "question",
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/communities/{forum.community_id}/threads",
        json={"category_id": forum.category_id, "kind": kind, "title": title, "body": body},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()
