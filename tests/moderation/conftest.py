"""The forum's fixtures (a community with a category and a member secret), for automod."""

from tests.forum.conftest import forum, other_forum  # noqa: F401
