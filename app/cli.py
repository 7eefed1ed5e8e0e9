"""The `hearth` command: serve, worker, migrate, create-org, seed-demo, member-token,
export-schema."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.engine import make_url

from app import __version__
from app.settings import Settings, get_settings

cli = typer.Typer(
    help="Hearth: the API service for digital community managers.",
    no_args_is_help=True,
    add_completion=False,
)
T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from pydantic import ValidationError

    try:
        cli()
    except ValidationError as exc:  # raised while reading HEARTH_* settings
        lines = [
            f"  {_setting_name(err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        ]
        typer.secho("Invalid configuration:\n" + "\n".join(lines), fg="red", err=True)
        raise SystemExit(2) from None


def _setting_name(loc: tuple[object, ...]) -> str:
    if not loc:
        return "settings"
    return "HEARTH_" + str(loc[0]).upper()


def _where_env(settings: Settings, host: str, port: int, *, only: str = "HEARTH_") -> str:
    """`HEARTH_…=… ` for the settings another shell would not have: where Hearth listens,
    and the database it uses (so seed-demo fills the same one). A database password is
    never printed: the line says to use the same URL instead."""
    default = {name: field.default for name, field in Settings.model_fields.items()}
    database = settings.database_url
    if make_url(database).password is not None:
        database = "<the same URL as this server>"
    pairs = [
        ("HEARTH_HOST", host, default["host"]),
        ("HEARTH_PORT", str(port), str(default["port"])),
        ("HEARTH_DATABASE_URL", database, default["database_url"]),
    ]
    return "".join(
        f"{name}={shlex.quote(value)} "
        for name, value, usual in pairs
        if value != usual and name.startswith(only)
    )


def _database_label(settings: Settings) -> str:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database}"
    return f"PostgreSQL {url.render_as_string(hide_password=True)}"


@asynccontextmanager
async def _runtime(settings: Settings) -> AsyncIterator[Any]:
    from app.main import build_runtime, open_queue

    runtime = build_runtime(settings, await open_queue(settings, in_process=False))
    try:
        yield runtime
    finally:
        await runtime.close()


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    async def go() -> T:
        async with _runtime(settings) as runtime:
            return await work(runtime)

    return asyncio.run(go())


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on [HEARTH_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [HEARTH_PORT].")] = None,
) -> None:
    """Serve the REST and GraphQL API."""
    import uvicorn

    from app.core.logging import configure_logging
    from app.core.runtime import freeze_startup_heap
    from app.main import create_app

    settings = get_settings()
    configure_logging(settings)
    host, port = host or settings.host, port or settings.port
    _ensure_free(host, port)  # before the banner tells anyone to use this address
    _print_banner(settings, host, port)
    app = create_app(settings)
    freeze_startup_heap()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=",".join(settings.trusted_proxies),
    )


def _ensure_free(host: str, port: int) -> None:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            typer.secho(
                f"Cannot listen on {host}:{port}: {exc.strerror}. Is Hearth (or something else)"
                " already serving there? Pick another port: --port 8001 or HEARTH_PORT=8001.",
                fg="red",
                err=True,
            )
            raise typer.Exit(1) from exc


def _print_banner(settings: Settings, host: str, port: int) -> None:
    from app.orgs import service as orgs_service

    async def count(runtime: Any) -> int:
        async with runtime.read_session() as session:
            return await orgs_service.org_count(session)

    try:
        orgs = _run(settings, count)
    except Exception as exc:  # not migrated yet, or the database is down
        typer.secho(
            f"Cannot read the database: {exc.__class__.__name__}. Run `hearth migrate`.", fg="red"
        )
        raise typer.Exit(1) from exc
    base = f"http://{host}:{port}"
    jobs = (
        "arq workers on Redis (run `hearth worker`)"
        if settings.redis_url
        else "in-process (no Redis configured)"
    )
    typer.secho(f"\n  Hearth {__version__}: the API for community managers\n", bold=True)
    for label, value in (
        ("Start", f"{base}/  (links to everything below)"),
        ("REST API", f"{base}/v1"),
        ("API docs", f"{base}/docs  {base}/redoc"),
        ("GraphiQL", f"{base}/graphql"),
        ("Health", f"{base}/healthz  {base}/readyz  {base}/metrics"),
        ("Database", _database_label(settings)),
        ("Jobs", jobs),
    ):
        typer.echo(f"  {label:<10}{value}")
    if orgs == 0:
        # The other terminal has none of this one's HEARTH_* variables or --port: say them.
        where = _where_env(settings, host, port)
        typer.secho("\n  No organisation yet. In another terminal, run one of:", fg="yellow")
        typer.echo(
            f"    {where}.venv/bin/hearth seed-demo          a demo org with communities,"
            " channels and keys"
        )
        typer.echo(f'    {where}.venv/bin/hearth create-org "Name"  an empty org and its owner key')
    else:
        typer.echo(f"\n  {orgs} organisation(s) in the database.")
    typer.echo("\n  Press Ctrl+C to stop.\n")


@cli.command()
def worker() -> None:
    """Run background jobs and sweeps from Redis (needs HEARTH_REDIS_URL)."""
    from arq.worker import run_worker

    from app import worker as worker_module
    from app.core.logging import configure_logging

    configure_logging(get_settings())
    run_worker(worker_module.WorkerSettings)


def alembic_config(database_url: str) -> Any:
    from alembic.config import Config

    for root in (PROJECT_ROOT, Path.cwd()):
        if (root / "alembic.ini").is_file():
            config = Config(str(root / "alembic.ini"))
            config.set_main_option("script_location", str(root / "alembic"))
            config.attributes["database_url"] = database_url
            return config
    raise typer.BadParameter("alembic.ini not found; run hearth from the project directory.")


@cli.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Upgrade the database schema (to the latest revision by default)."""
    from alembic import command

    settings = get_settings()
    typer.echo(f"Migrating {_database_label(settings)} to {revision} …")
    command.upgrade(alembic_config(settings.database_url), revision)
    typer.secho("Database is up to date.", fg="green")


@cli.command()
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base.")]) -> None:
    """Downgrade the database schema to an earlier revision."""
    from alembic import command

    settings = get_settings()
    command.downgrade(alembic_config(settings.database_url), revision)
    typer.secho(f"Database downgraded to {revision}.", fg="green")


@cli.command("create-org")
def create_org(name: Annotated[str, typer.Argument(help="The organisation's name.")]) -> None:
    """Create an organisation and print its owner API key."""
    from app.orgs import service as orgs_service
    from app.orgs.schemas import OrgCreate

    async def work(runtime: Any) -> tuple[Any, Any]:
        async with runtime.unit_of_work() as session:
            return await orgs_service.create_org(session, OrgCreate(name=name))

    org, owner = _run(get_settings(), work)
    typer.echo(f"Organisation {org.name!r} created (id {org.id}).")
    typer.echo(f"Owner API key (shown once, store it now):\n  {owner.key}")


@cli.command("seed-demo")
def seed_demo() -> None:
    """Fill a demo organisation with communities and channels; print a key per role."""
    from app.seed import seed

    settings = get_settings()
    result = _run(settings, seed)
    typer.secho(f"Demo organisation {result.org_name!r} created (id {result.org_id}).", bold=True)
    typer.echo("(Each run creates a new demo organisation.)")
    typer.echo("API keys, one per role (shown once):")
    for role, key in result.keys.items():
        typer.echo(f"  {role:<10} {key}")
    typer.echo("Communities:")
    for slug, channels in result.communities.items():
        typer.echo(f"  {slug:<14} channels: {', '.join(channels)}")
    base = f"http://{settings.host}:{settings.port}"
    typer.echo(
        f'\nTry:\n  curl -H "Authorization: Bearer {result.keys["viewer"]}" {base}/v1/communities'
    )
    if not _hearth_answers(base):
        typer.secho(
            f"(Nothing answers at {base} yet. If Hearth serves on another host or port, run"
            " this command with the HEARTH_HOST and HEARTH_PORT that `hearth serve` printed.)",
            fg="yellow",
        )
    if result.content:
        typer.echo(
            "\nContent in starfall (GET /v1/communities/{id}/calendar): "
            + "; ".join(result.content)
            + ". The announcement goes out to the forum and the launcher feed as soon as"
            " Hearth runs."
        )
    if result.feed:
        typer.echo(
            f"\nThe starfall launcher feed (public, for game launchers):\n  {base}/v1/feeds/"
            f"{result.feed}   (also /feed.json, /rss, /atom, and /embed for a web view)"
        )
    if result.forum_community:
        # This terminal may have set the database inline, for seed-demo only: repeat it.
        database = _where_env(settings, "", 0, only="HEARTH_DATABASE")
        typer.echo(
            "\nThe starfall forum has categories, questions (one waiting in the inbox) and a"
            " bug report."
            f" A member token to post with:\n  {database}.venv/bin/hearth member-token"
            f' {result.forum_community} player-42 "Rook"'
        )
        typer.echo(
            "\nIts moderation queue holds a thread automod held and a post two members"
            " reported; the member Vex is muted:\n"
            f'  curl -H "Authorization: Bearer {result.keys["moderator"]}"'
            f" {base}/v1/communities/{result.forum_community}/queue"
        )


def _hearth_answers(base: str) -> bool:
    import httpx

    try:
        health = httpx.get(f"{base}/healthz", timeout=1).json()
    except (httpx.HTTPError, ValueError):
        return False
    return isinstance(health, dict) and health.get("status") == "ok" and "version" in health


@cli.command("member-token")
def member_token(
    community: Annotated[str, typer.Argument(help="The community's id or slug.")],
    sub: Annotated[str, typer.Argument(help="The member's id in your own system.")],
    name: Annotated[str, typer.Argument(help="The member's display name.")],
    ttl: Annotated[int, typer.Option(help="Seconds until the token expires.")] = 3600,
) -> None:
    """Print a member token for trying the forum; your own backend signs these in production."""
    from app.communities import service as communities_service
    from app.core.errors import AppError
    from app.forum import members

    async def work(runtime: Any) -> str:
        async with runtime.read_session() as session:
            found = await communities_service.find_for_member_tokens(session, community)
        return members.issue_token(found.member_secret, found.id, sub, name, ttl)

    try:
        typer.echo(_run(get_settings(), work))
    except AppError as exc:
        typer.secho(exc.detail, fg="red", err=True)
        raise typer.Exit(1) from None


@cli.command("import-content")
def import_content(
    file: Annotated[
        Path, typer.Argument(help="A .json ({items: [...]}) or .csv file.", exists=True)
    ],
    community: Annotated[str, typer.Option(help="The community's id or slug.")],
    dry_run: Annotated[bool, typer.Option(help="Check every row, create nothing.")] = False,
) -> None:
    """Import drafts into a community from JSON or CSV, with a progress bar."""
    from rich.progress import Progress

    from app.communities import service as communities_service
    from app.core.auth import Actor, Role
    from app.core.errors import AppError
    from app.schedule import importing

    media_type = "text/csv" if file.suffix.lower() == ".csv" else "application/json"

    async def work(runtime: Any) -> list[importing.RowResult]:
        async with runtime.unit_of_work() as session:
            found = await communities_service.find_by_ref(session, community)
            actor = Actor(org_id=found.org_id, role=Role.manager, key_id=None, name="import")
            rows = importing.read_rows(file.read_bytes(), media_type)
            with Progress(transient=False) as progress:
                task = progress.add_task(f"Importing into {found.slug}", total=len(rows))
                return await importing.import_rows(
                    session,
                    actor,
                    found.id,
                    rows,
                    dry_run=dry_run,
                    progress=lambda done: progress.update(task, completed=done),
                )

    try:
        results = _run(get_settings(), work)
    except AppError as exc:
        typer.secho(exc.detail, fg="red", err=True)
        raise typer.Exit(2) from None
    failed = [r for r in results if not r.ok]
    done = "checked" if dry_run else "created"
    typer.secho(f"{len(results) - len(failed)} of {len(results)} rows {done}.", bold=True)
    for result in failed:
        problems = "; ".join(
            f"{'.'.join(map(str, e.get('loc', []))) or 'row'}: {e['message']}"
            for e in result.errors
        )
        typer.secho(f"  row {result.row}: {problems}", fg="red")
    if failed:
        raise typer.Exit(1)


@cli.command("export-schema")
def export_schema(
    out: Annotated[Path, typer.Option(help="Directory to write into.")] = PROJECT_ROOT / "openapi",
) -> None:
    """Write openapi.json and schema.graphql from the app."""
    from app.schema_export import graphql_sdl, openapi_json

    out.mkdir(parents=True, exist_ok=True)
    (out / "openapi.json").write_text(openapi_json())
    (out / "schema.graphql").write_text(graphql_sdl())
    typer.echo(f"Wrote {out / 'openapi.json'} and {out / 'schema.graphql'}.")


if __name__ == "__main__":
    main()
