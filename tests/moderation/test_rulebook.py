"""The per-process rulebook's single compilation (no database: `_compile` is replaced)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from app.moderation.rulebook import Compiled, Rulebook


class GatedBook(Rulebook):
    """Compilations that wait for the test to let them finish, at the version it says."""

    def __init__(self) -> None:
        super().__init__(runtime=None, scorer=None)  # type: ignore[arg-type]
        self.started: list[int] = []
        self.release: asyncio.Queue[int] = asyncio.Queue()

    async def _compile(self, community_id: uuid.UUID) -> tuple[Compiled, int]:
        self.started.append(len(self.started) + 1)
        version = await self.release.get()
        return Compiled([]), version


async def test_a_writer_of_a_newer_version_gets_a_compilation_of_its_own() -> None:
    book, community = GatedBook(), uuid.uuid4()
    first = [asyncio.ensure_future(book.rules(community, 1)) for _ in range(10)]
    await asyncio.sleep(0)
    # A rule changed meanwhile: a writer that read version 2 waits for the compilation
    # under way, finds it older, and starts the next one (without spinning).
    newer = asyncio.ensure_future(book.rules(community, 2))
    await asyncio.sleep(0)
    assert book.started == [1]
    await book.release.put(1)
    results: list[Any] = await asyncio.wait_for(asyncio.gather(*first), 1)
    assert all(r is results[0] for r in results)
    await asyncio.sleep(0)
    assert book.started == [1, 2] and not newer.done()
    await book.release.put(2)
    assert await asyncio.wait_for(newer, 1) is not results[0]
    # Both are done and unlisted: the next change starts afresh.
    assert book._compiling == {}
    assert await book.rules(community, 2) is newer.result()
