"""REST: the forum's routers, joined into one for `app.main`."""

from __future__ import annotations

from fastapi import APIRouter

from app.core.errors import document_not_found
from app.forum import rest_inbox, rest_members, rest_posts, rest_threads

router = APIRouter()
for part in (rest_members, rest_threads, rest_posts, rest_inbox):
    document_not_found(part.router)
    router.include_router(part.router)
