"""REST: the forum's routers, for `app.main` to include one by one.

Each is included in the app directly, not through one joined forum router: FastAPI matches
a request against every route of each router it passes through, at each level of nesting.
"""

from __future__ import annotations

from app.core.errors import document_not_found
from app.forum import rest_inbox, rest_members, rest_posts, rest_threads

routers = (rest_members.router, rest_threads.router, rest_posts.router, rest_inbox.router)
for _router in routers:
    document_not_found(_router)
