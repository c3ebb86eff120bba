"""`ledgerflow replay`: rebuild every read model from the history, verify, swap it in."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from services.settings import CoreSettings, KafkaSettings

console = Console()
err_console = Console(stderr=True)

Source = Literal["log", "audit"]


def replay_command(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="`log`: the event log (Kafka, or the embedded table) from its earliest offsets; "
            "`audit`: the audit log alone (when the log's retention has been lost).",
        ),
    ] = "log",
    schema: Annotated[str, typer.Option(help="Schema to rebuild into.")] = "readmodel_rebuild",
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted replay into the same schema.")
    ] = False,
    swap: Annotated[
        bool, typer.Option(help="Swap the rebuilt schema in when it verifies (else keep both).")
    ] = True,
    batch: Annotated[int, typer.Option(help="Events per transaction.")] = 2000,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory (env LEDGERFLOW_DATA_DIR).")
    ] = None,
) -> None:
    """Rebuild every read model from the event history into a fresh schema, with the live
    projection code; verify it table by table against the live schema; swap it in atomically
    while the server keeps serving (its writes wait a moment for the swap)."""
    if source not in ("log", "audit"):
        err_console.print("--from must be `log` or `audit`")
        raise typer.Exit(2)
    core = CoreSettings()
    if data_dir is not None:
        core = core.model_copy(update={"data_dir": data_dir})
    code = asyncio.run(_run(core, source, schema, resume, swap, batch))  # type: ignore[arg-type]
    raise typer.Exit(code)


async def _run(
    core: CoreSettings, source_name: Source, schema: str, resume: bool, swap: bool, batch: int
) -> int:
    from services.log.factory import open_event_log
    from services.replay import runner
    from services.replay.schema import create_fresh, schema_exists
    from services.replay.sources import AuditSource, EventLogSource, ReplaySource
    from services.store.connect import resolve_dsn
    from services.store.migrate import upgrade
    from services.store.pool import connect, create_pool

    dsn = resolve_dsn(core)
    admin = await connect(dsn)
    await upgrade(admin)
    if not (resume and await schema_exists(admin, schema)):
        await create_fresh(admin, schema)
        await admin.execute(
            "DELETE FROM projector_positions WHERE consumer = $1", runner.consumer_for(schema)
        )
    replay_conn = await runner.connect_to(dsn, schema)
    pool = event_log = None
    source: ReplaySource
    if source_name == "audit":
        source = AuditSource(replay_conn)
    else:
        pool = await create_pool(dsn, min_size=1, max_size=2)
        event_log = await open_event_log(core, KafkaSettings(), pool, dsn)
        source = EventLogSource(event_log)
    try:
        stats = runner.ReplayStats()
        from services.projector import positions

        ahead = await source.remaining(
            await positions.load(replay_conn, runner.consumer_for(schema))
        )
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
        ) as bar:
            task = bar.add_task(f"replaying the {source.name}", total=ahead, rate="")

            def advance(events: int, points: int) -> None:
                bar.advance(task, events)
                elapsed = bar.tasks[task].elapsed or 0.0
                if elapsed > 0:
                    rate = (
                        f"{stats.events / elapsed:,.0f} events/s, "
                        f"{stats.points / elapsed:,.0f} points/s"
                    )
                    bar.update(task, rate=rate)

            await runner.replay(
                replay_conn, schema, source, max_batch=batch, progress=advance, stats=stats
            )
            # Writes went on meanwhile: catch up until little is left for the locked final step.
            for _ in range(10):
                behind = await runner.lag(admin, schema)
                if behind < 2 * batch:
                    break
                await runner.replay(
                    replay_conn, schema, AuditSource(replay_conn), max_batch=batch, stats=stats
                )
        console.print(
            f"replayed {stats.events:,} events ({stats.points:,} metric points) from the "
            f"{source.name} in {stats.seconds:.1f}s: {stats.events_per_second:,.0f} events/s, "
            f"{stats.points_per_second:,.0f} points/s"
        )
        result = await runner.catch_up_and_swap(admin, replay_conn, schema, swap=swap)
    finally:
        await replay_conn.close()
        await admin.close()
        if event_log is not None:
            await event_log.close()
        if pool is not None:
            await pool.close()

    table = Table(title="verification: live vs rebuilt")
    table.add_column("table")
    table.add_column("live rows", justify="right")
    table.add_column("rebuilt rows", justify="right")
    table.add_column("digest")
    for name, live, rebuilt in result.comparison.tables:
        same = (
            live is not None
            and rebuilt is not None
            and (live.rows, live.digest)
            == (
                rebuilt.rows,
                rebuilt.digest,
            )
        )
        table.add_row(
            name,
            str(live.rows) if live else "-",
            str(rebuilt.rows) if rebuilt else "-",
            "[green]identical[/green]" if same else "[red]DIFFERENT[/red]",
        )
    console.print(table)
    for name, lines in result.comparison.samples.items():
        err_console.print(f"[bold]{name}[/bold]")
        for line in lines:
            err_console.print(f"  {line}")
    if not result.comparison.identical:
        err_console.print(
            f"NOT SWAPPED: {', '.join(result.comparison.differing())} differ; the rebuilt schema "
            f"{schema} is kept for inspection"
        )
        return 1
    if result.swapped:
        console.print(
            f"swapped in (caught up {result.tail_events} events, live projection paused "
            f"{result.lock_seconds:.2f}s); the previous read models are kept as {result.retired}"
        )
    else:
        console.print(f"verified; not swapped (--no-swap): the rebuilt schema is {schema}")
    return 0
