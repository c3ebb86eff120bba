"""`ledgerflow ...`: the server, the projector worker, database and audit commands; the registry's
history and promotion gates live in `cli_registry` and `cli_promote`, BI roles in `cli_bi`."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from services.cli_artifacts import artifacts_app
from services.cli_bi import bi_app
from services.cli_promote import promote
from services.cli_registry import registry_app
from services.cli_replay import replay_command
from services.settings import CoreSettings, KafkaSettings, settings_error

app = typer.Typer(
    name="ledgerflow",
    help="MLflow-compatible tracking server and model registry with a verifiable history.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(artifacts_app, name="artifacts")
app.add_typer(registry_app, name="registry")
app.add_typer(bi_app, name="bi")
app.command()(promote)
app.command(name="replay")(replay_command)

console = Console()
err_console = Console(stderr=True)


def _core(data_dir: Path | None) -> CoreSettings:
    core = CoreSettings()
    if data_dir is not None:
        core = core.model_copy(update={"data_dir": data_dir})
    return core


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory (env LEDGERFLOW_DATA_DIR).", show_default=False
    ),
]


@app.command()
def server(
    host: Annotated[
        str | None, typer.Option(help="Listen address (env LEDGERFLOW_GATEWAY_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Listen port (env LEDGERFLOW_GATEWAY_PORT).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the gateway. With no configuration: embedded PostgreSQL, embedded event log and
    in-process projector, data under ./ledgerflow-data, on http://127.0.0.1:5000."""
    import uvicorn

    from services.gateway.actor import AuthConfigError, AuthSettings
    from services.gateway.app import create_app
    from services.gateway.settings import GatewaySettings
    from services.node import Node
    from services.projector.settings import ProjectorSettings

    gateway = GatewaySettings()
    core = _core(data_dir)
    node = Node(
        core,
        KafkaSettings(),
        ProjectorSettings(),
        run_projector=gateway.run_projector,
        verdict_timeout=gateway.verdict_timeout_seconds,
    )
    try:
        gateway_app = create_app(node, auth=AuthSettings())
    except AuthConfigError as err:
        err_console.print(f"authentication is misconfigured: {err}")
        raise typer.Exit(2) from None
    bind_host = host or gateway.host
    bind_port = port or gateway.port
    console.print(
        f"ledgerflow {_version()} on http://{bind_host}:{bind_port} "
        f"(log: {core.log_backend}, database: "
        f"{'external' if core.database_url else f'embedded in {core.data_dir}/postgres'})"
    )
    uvicorn.run(
        gateway_app,
        host=bind_host,
        port=bind_port,
        log_level="info",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


@app.command()
def projector() -> None:
    """Run the cluster-mode projector (a faust worker reading the Kafka topics)."""
    from services.projector.app import run_worker
    from services.projector.settings import ProjectorSettings

    core = CoreSettings()
    if core.log_backend != "kafka":
        err_console.print(
            "The projector worker reads Kafka: set LEDGERFLOW_LOG_BACKEND=kafka "
            "(in the embedded default the server runs the projector itself)."
        )
        raise typer.Exit(2)
    run_worker(core, KafkaSettings(), ProjectorSettings())


@app.command()
def version() -> None:
    """Print the version."""
    console.print(_version())


def _version() -> str:
    from importlib.metadata import version as dist_version

    return dist_version("ledgerflow")


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply pending schema migrations (the server also does this at start)."""
    import asyncpg

    from services.store.connect import resolve_dsn
    from services.store.migrate import upgrade

    async def run() -> list[str]:
        conn = await asyncpg.connect(resolve_dsn(_core(data_dir)))
        try:
            return await upgrade(conn)
        finally:
            await conn.close()

    applied = asyncio.run(run())
    if applied:
        for name in applied:
            console.print(f"applied {name}")
    else:
        console.print("schema is up to date")


@audit_app.command("verify")
def audit_verify(
    data_dir: DataDir = None,
    incremental: Annotated[
        bool,
        typer.Option(help="Resume each chain after its last verified checkpoint."),
    ] = False,
    against_log: Annotated[
        bool,
        typer.Option(
            "--against-log",
            help="Also check that every link's log coordinates hold the recorded event.",
        ),
    ] = False,
) -> None:
    """Recompute every hash chain; exit 1 and name the first broken link if any."""
    import asyncpg
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from services.audit.coordinates import CoordinateProblem, check_coordinates
    from services.audit.verify import AuditReport, total_links, verify
    from services.store.connect import resolve_dsn
    from services.store.pool import connect

    core = _core(data_dir)

    async def run() -> tuple[AuditReport, list[CoordinateProblem]]:
        conn = await connect(resolve_dsn(core))
        try:
            total = await total_links(conn, incremental)
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            ) as bar:
                task = bar.add_task("verifying links", total=total)
                report = await verify(
                    conn,
                    incremental=incremental,
                    progress=lambda n: bar.advance(task, n),
                )
            problems: list[CoordinateProblem] = []
            if against_log:
                problems = await _check_against_log(conn, core)
            return report, problems
        finally:
            await conn.close()

    async def _check_against_log(
        conn: asyncpg.Connection, core: CoreSettings
    ) -> list[CoordinateProblem]:
        from services.log.factory import open_event_log
        from services.store.pool import create_pool

        dsn = resolve_dsn(core)
        pool = await create_pool(dsn, min_size=1, max_size=2)
        event_log = await open_event_log(core, KafkaSettings(), pool, dsn)
        try:
            return await check_coordinates(conn, event_log)
        finally:
            await event_log.close()
            await pool.close()

    report, problems = asyncio.run(run())
    table = Table(title="audit chains")
    table.add_column("chain")
    table.add_column("links checked", justify="right")
    table.add_column("status")
    for chain in report.chains:
        if chain.broken is None:
            status = "[green]intact[/green]"
        else:
            where = f"seq {chain.broken.seq}" if chain.broken.seq is not None else "chain head"
            status = (
                f"[red]BROKEN at link {chain.broken.chain_seq} ({where}): "
                f"{chain.broken.problem}[/red]"
            )
        table.add_row(chain.chain, str(chain.links), status)
    console.print(table)
    for problem in problems:
        err_console.print(
            f"LOG MISMATCH: chain {problem.chain} link {problem.chain_seq} (audit seq "
            f"{problem.seq}): {problem.problem}"
        )
    if report.intact and not problems:
        scope = "new links" if incremental else "links"
        console.print(
            f"audit log intact: {report.links} {scope} in {len(report.chains)} chains"
            + (" (log coordinates checked)" if against_log else "")
        )
        return
    for chain in report.chains:
        if chain.broken is not None:
            err_console.print(
                f"BROKEN: chain {chain.chain} link {chain.broken.chain_seq}"
                f" (audit seq {chain.broken.seq}): {chain.broken.problem}"
            )
    raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON lines file to write.")],
    from_seq: Annotated[int, typer.Option(help="First audit sequence number.")] = 1,
    to_seq: Annotated[int | None, typer.Option(help="Last audit sequence number.")] = None,
    chain: Annotated[str | None, typer.Option(help="Only this chain.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Write a range of the audit log as JSON lines with the chain hashes."""
    from services.audit.export import export_lines
    from services.store.connect import resolve_dsn
    from services.store.pool import connect

    async def run() -> int:
        conn = await connect(resolve_dsn(_core(data_dir)))
        count = 0
        try:
            with output.open("wb") as out:
                async for line in export_lines(conn, from_seq, to_seq, chain):
                    out.write(line)
                    count += 1
        finally:
            await conn.close()
        return count

    with console.status("exporting"):
        count = asyncio.run(run())
    console.print(f"wrote {count} links to {output}")


@audit_app.command("check-export")
def audit_check_export(
    path: Annotated[Path, typer.Argument(help="An exported JSON lines file.")],
) -> None:
    """Recompute the hash chains of an export, without the database."""
    from services.audit.export import check_export

    with path.open("rb") as lines:
        result = check_export(lines)
    for problem in result.problems:
        err_console.print(f"BROKEN: {problem}")
    if not result.intact:
        raise typer.Exit(1)
    console.print(f"export intact: {result.lines} links in {len(result.chains)} chains")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        app()
    except ValidationError as err:
        message = settings_error(err)
        if message is None:
            raise
        err_console.print(message, markup=False, highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
