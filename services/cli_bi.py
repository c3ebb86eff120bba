"""`ledgerflow bi ...`: read-only roles for BI tools on the bi_v* views (services/bi), the loopback
TCP entrance of the embedded PostgreSQL, and the views' catalogue.

Exit codes: 0 done; 1 done, but the reader can do more than read the views (named), or the
server refused; 2 usage errors (a bad role name, a role that is not a reader, an entrance off
loopback or beside an external PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

import asyncpg
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from services.settings import CoreSettings

console = Console()
err_console = Console(stderr=True)

bi_app = typer.Typer(
    help="SQL views for BI tools (schema bi_v1) and their read-only roles.", no_args_is_help=True
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory (env LEDGERFLOW_DATA_DIR).", show_default=False
    ),
]
Role = Annotated[str, typer.Option("--role", help="Name of the reader role (lower-case).")]


def _core(data_dir: Path | None) -> CoreSettings:
    core = CoreSettings()
    if data_dir is not None:
        core = core.model_copy(update={"data_dir": data_dir})
    return core


@bi_app.command("grant")
def grant(
    role: Role,
    password: Annotated[
        str | None,
        typer.Option(
            help="Its password (else env LEDGERFLOW_BI_PASSWORD, else asked for).",
            show_default=False,
        ),
    ] = None,
    statement_timeout: Annotated[
        str,
        typer.Option(help="Longest query the role may run (PostgreSQL units; 0: no limit)."),
    ] = "60s",
    data_dir: DataDir = None,
) -> None:
    """Create (or update) a LOGIN role that can read the BI views and nothing else, and say how
    to connect with it. Applies pending migrations first. On the embedded PostgreSQL it also
    makes the server ask readers for their password (pg_hba.conf)."""
    from services.bi.settings import BiSettings

    if password is None:
        configured = BiSettings().password
        password = (
            configured.get_secret_value()
            if configured is not None
            else typer.prompt(f"password for {role}", hide_input=True, confirmation_prompt=True)
        )
    core = _core(data_dir)
    raise typer.Exit(asyncio.run(_grant(core, role, password, statement_timeout)))


async def _grant(core: CoreSettings, role: str, password: str, statement_timeout: str) -> int:
    from services.bi.hba import HbaError, require_passwords
    from services.bi.roles import BiRoleError, grant_reader
    from services.bi.settings import BiSettings
    from services.store.connect import resolve_dsn
    from services.store.migrate import upgrade
    from services.store.pool import connect

    embedded = core.database_url is None
    dsn = resolve_dsn(core)
    conn = await connect(dsn)
    try:
        await upgrade(conn)
        try:
            reader = await grant_reader(conn, role, password, statement_timeout=statement_timeout)
        except BiRoleError as err:
            err_console.print(f"[red]{escape(str(err))}[/red]")
            return 2
        except asyncpg.InvalidParameterValueError as err:  # e.g. a malformed timeout
            err_console.print(f"[red]{escape(str(err))}[/red]")
            return 2
        except asyncpg.InsufficientPrivilegeError as err:
            err_console.print(
                f"[red]the database refused: {escape(str(err))}[/red] "
                "(creating a role needs CREATEROLE; run this as a user who has it)"
            )
            return 1
        if embedded:
            try:
                hba = await require_passwords(conn)
            except HbaError as err:
                err_console.print(f"[red]{escape(str(err))}[/red]")
                return 1
        host, port, database = await _where(conn, dsn, embedded)
    finally:
        await conn.close()
    console.print(f"reader [bold]{role}[/bold]: SELECT on the views of {', '.join(reader.schemas)}")
    if embedded:
        console.print(f"readers must give their password here ({escape(str(hba))})")
    console.print(
        escape(f"connect with: host={host} port={port} dbname={database} user={role}"),
        soft_wrap=True,  # one line, to copy as it is
    )
    if embedded:
        entrance = BiSettings()
        console.print(
            "tools that cannot use a Unix socket (JDBC: Metabase, DBeaver): run "
            "`ledgerflow bi listen`, then connect to "
            f"host={entrance.listen_host} port={entrance.listen_port} dbname={database}"
        )
    if reader.problems:
        err_console.print(f"[red]{role} can do more than read the BI views:[/red]")
        for problem in reader.problems:
            err_console.print(f"  {escape(problem)}")
        return 1
    return 0


async def _where(conn: asyncpg.Connection, dsn: str, embedded: bool) -> tuple[str, int, str]:
    """Host (a socket's directory for the embedded server), port and database ``conn`` is on."""
    database = str(await conn.fetchval("SELECT current_database()"))
    port = int(await conn.fetchval("SHOW port"))
    if embedded:
        directory = (await conn.fetchval("SHOW unix_socket_directories")).split(",")[0].strip()
        return directory, port, database
    parts = urlsplit(dsn)
    host = parts.hostname or parse_qs(parts.query).get("host", ["localhost"])[0]
    return host, port, database


@bi_app.command("revoke")
def revoke(role: Role, data_dir: DataDir = None) -> None:
    """Drop a reader role, with every privilege it holds in this database."""
    from services.bi.roles import BiRoleError, revoke_reader
    from services.store.connect import resolve_dsn
    from services.store.pool import connect

    async def run() -> int:
        conn = await connect(resolve_dsn(_core(data_dir)))
        try:
            await revoke_reader(conn, role)
        except BiRoleError as err:
            err_console.print(f"[red]{escape(str(err))}[/red]")
            return 2
        finally:
            await conn.close()
        console.print(f"dropped reader {role}")
        return 0

    raise typer.Exit(asyncio.run(run()))


@bi_app.command("readers")
def readers_command(data_dir: DataDir = None) -> None:
    """List the reader roles and anything one can do beyond reading the views (exit 1 if so)."""
    from services.bi.roles import readers
    from services.store.connect import resolve_dsn
    from services.store.pool import connect

    async def run() -> int:
        conn = await connect(resolve_dsn(_core(data_dir)))
        try:
            found = await readers(conn)
        finally:
            await conn.close()
        table = Table(title="BI readers")
        table.add_column("role")
        table.add_column("reads")
        table.add_column("beyond the views")
        for reader in found:
            table.add_row(
                reader.role,
                ", ".join(reader.schemas) or "-",
                escape("; ".join(reader.problems)) if reader.problems else "[green]nothing[/green]",
            )
        console.print(table)
        return 1 if any(r.problems for r in found) else 0

    raise typer.Exit(asyncio.run(run()))


@bi_app.command("listen")
def listen(
    host: Annotated[
        str | None, typer.Option(help="Loopback address (env LEDGERFLOW_BI_LISTEN_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (env LEDGERFLOW_BI_LISTEN_PORT).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Open a loopback TCP entrance to the embedded PostgreSQL for BI readers only (for tools
    that cannot use its Unix socket); every other role is refused. Runs until interrupted."""
    from services.bi.settings import BiSettings

    settings = BiSettings()
    host = host or settings.listen_host
    port = port or settings.listen_port
    core = _core(data_dir)
    if core.database_url is not None:
        err_console.print(
            "LEDGERFLOW_DATABASE_URL names an external PostgreSQL: it takes TCP connections "
            "itself; point BI tools at it"
        )
        raise typer.Exit(2)
    if not _loopback(host):
        err_console.print(
            f"{escape(host)} is not a loopback address: the entrance has no TLS, so it stays on "
            "this machine (use an external PostgreSQL to serve BI tools over a network)"
        )
        raise typer.Exit(2)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_listen(core, host, port))


async def _listen(core: CoreSettings, host: str, port: int) -> None:
    from services.bi.hba import require_passwords
    from services.bi.listener import open_entrance
    from services.store.connect import resolve_dsn
    from services.store.pool import connect

    dsn = resolve_dsn(core)
    conn = await connect(dsn)
    try:
        await require_passwords(conn)
        database = await conn.fetchval("SELECT current_database()")
    finally:
        await conn.close()
    server, admin = await open_entrance(dsn, host, port)
    console.print(
        f"BI readers: host={host} port={port} dbname={database} (other roles are refused); "
        "Ctrl-C stops"
    )
    try:
        async with server:
            await server.serve_forever()
    finally:
        await admin.close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@bi_app.command("catalogue")
def catalogue(
    markdown: Annotated[
        bool, typer.Option(help="Print Markdown (the tables of docs/bi.md).")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """The BI views and their columns, with types and meanings, as the database describes them."""
    from services.bi import catalogue as cat
    from services.store.connect import resolve_dsn
    from services.store.migrate import upgrade
    from services.store.pool import connect

    async def run() -> list[cat.View]:
        conn = await connect(resolve_dsn(_core(data_dir)))
        try:
            await upgrade(conn)
            return await cat.describe(conn)
        finally:
            await conn.close()

    views = asyncio.run(run())
    if markdown:
        print(cat.markdown(views), end="")
        return
    for view in views:
        table = Table(
            title=f"{view.schema}.{view.name}", caption=view.meaning, caption_justify="left"
        )
        table.add_column("column")
        table.add_column("type")
        table.add_column("meaning")
        for column in view.columns:
            table.add_row(column.name, column.type, column.meaning)
        console.print(table)
