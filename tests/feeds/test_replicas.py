"""Two `hearth serve` replicas on one PostgreSQL: a publish through one shows in the other's
feed within two seconds, though the other had the feed cached."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import empty_tables, make_org
from tests.processes import free_port, hearth_env, hearth_process, wait_healthy
from tests.schedule.conftest import act, draft, make_studio


@pytest.mark.postgres_only
async def test_a_publish_shows_on_every_replica_within_two_seconds(
    database_url: str, tmp_path: Path
) -> None:
    env = hearth_env(database_url)  # the production default: each feed checked once a second
    ports = free_port(), free_port()
    logs = tmp_path / "a.log", tmp_path / "b.log"
    try:
        with (
            hearth_process(["serve", "--port", str(ports[0])], env, logs[0]) as first,
            hearth_process(["serve", "--port", str(ports[1])], env, logs[1]) as second,
        ):
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            await wait_healthy(bases[0], first, logs[0])
            await wait_healthy(bases[1], second, logs[1])
            async with (
                httpx.AsyncClient(base_url=bases[0]) as writer,
                httpx.AsyncClient(base_url=bases[1]) as reader,
            ):
                org = await make_org(writer, "Starfall Studios")
                studio = await make_studio(writer, org, kinds=("launcher_feed",))
                feed = f"/v1/feeds/{studio.channels['launcher_feed']}"
                empty = await reader.get(feed)
                assert empty.json()["items"] == []
                cached = await reader.get(feed, headers={"if-none-match": empty.headers["etag"]})
                assert cached.status_code == 304  # the reader answers from its cache now

                item = await draft(writer, studio, channel_ids=[studio.channels["launcher_feed"]])
                published = await act(writer, studio, item, "publish")
                assert published.status_code == 202, published.text
                since = time.monotonic()
                while time.monotonic() - since < 2.0:
                    titles = [i["title"] for i in (await reader.get(feed)).json()["items"]]
                    if titles == [item["title"]]:
                        break
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError("the other replica did not serve the item within 2 s")
    finally:
        await empty_tables(database_url)
