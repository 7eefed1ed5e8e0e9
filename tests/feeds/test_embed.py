"""The embeddable panel in a real browser (Debian's Chromium, driven by Playwright): the
items render, a click is recorded through the events endpoint, and the console stays
clean (a CSP violation or a script error would show there)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from app.feeds.models import FeedEvent
from app.main import create_app
from tests.conftest import empty_tables, make_org, make_settings
from tests.feeds.conftest import published
from tests.processes import free_port
from tests.schedule.conftest import eventually, make_studio

CHROMIUM = shutil.which("chromium")


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("HEARTH_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail("HEARTH_TEST_REQUIRE_BROWSER=1 but Chromium is not installed")
        pytest.skip(
            "the embed's browser test needs Chromium: `apt-get install chromium` (Debian's"
            " package; .ci/run installs it and requires this test)"
        )
    return CHROMIUM


@contextlib.asynccontextmanager
async def serving(database_url: str) -> AsyncIterator[tuple[str, object]]:
    """The app on a real port (a browser needs one), in this event loop."""
    app = create_app(make_settings(database_url, feed_check_seconds=0.05))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await task
        await empty_tables(database_url)


async def test_the_panel_renders_and_records_a_click(database_url: str, chromium: str) -> None:
    from playwright.async_api import async_playwright

    async with serving(database_url) as (base, app), httpx.AsyncClient(base_url=base) as client:
        org = await make_org(client, "Starfall Studios")
        studio = await make_studio(client, org, kinds=("launcher_feed",))
        patch = await published(
            client, studio, title="Patch 1.2", fields={"url": f"{base}/healthz"}
        )
        await published(client, studio, title="Season 3", feed={"summary": "New ships."})
        url = f"{base}/v1/feeds/{studio.channels['launcher_feed']}/embed?theme=light"

        problems: list[str] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox"]
            )
            try:
                page = await browser.new_page()
                page.on(
                    "console",
                    lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
                )
                page.on("pageerror", lambda error: problems.append(str(error)))
                answer = await page.goto(url)
                assert answer is not None and answer.status == 200
                titles = await page.locator("article h2").all_inner_texts()
                assert titles == ["Season 3", "Patch 1.2"]
                assert await page.locator("body").get_attribute("class") == "light"
                async with page.expect_popup() as popup:
                    await page.get_by_role("link", name="Patch 1.2").click()
                await (await popup.value).close()
                await asyncio.sleep(0.7)  # the impressions' batch goes out after 500 ms
            finally:
                await browser.close()

        async def recorded() -> list[tuple[str, str]]:
            await app.state.feed_events.flush()  # type: ignore[attr-defined]
            async with app.state.runtime.db.session() as session:  # type: ignore[attr-defined]
                rows = await session.execute(select(FeedEvent.content_id, FeedEvent.type))
                return sorted((str(cid), kind) for cid, kind in rows)

        events = await eventually(recorded, timeout=5)
        assert (patch["id"], "click") in events
        assert [kind for _, kind in events].count("impression") == 2
        assert problems == []
