"""`ledgerflow artifacts gc`: the retention sweep (services/artifacts/retention.py decides,
services/artifacts/gc.py carries it out); this module parses options and shows the summary.

Exit codes: 0 done (or nothing to do); 1 the sweep stopped part-way (what was deleted before is
shown and recorded); 2 usage errors (no rule, a bad --now or experiment id).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from services.settings import CoreSettings, KafkaSettings

if TYPE_CHECKING:
    from services.artifacts.gc import GcReport

console = Console()
err_console = Console(stderr=True)

artifacts_app = typer.Typer(help="The artifact store: retention.", no_args_is_help=True)


class _Bar:
    """The rich progress bar a sweep reports to while it deletes."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("deleting", total=None, files=0, of=0)
        self.files = 0

    def planned(self, files: int, size: int) -> None:
        self.progress.update(self.task, total=size, of=files)

    def deleted(self, what: str, files: int, size: int) -> None:
        self.files += files
        self.progress.update(
            self.task, advance=size, files=self.files, description=f"deleting {what[:40]}"
        )


@artifacts_app.command("gc")
def gc(
    deleted_older_than: Annotated[
        float | None,
        typer.Option(
            "--deleted-older-than",
            min=0,
            metavar="DAYS",
            show_default=False,
            help="Collect runs deleted more than DAYS days ago (fractions allowed).",
        ),
    ] = None,
    runs_older_than: Annotated[
        float | None,
        typer.Option(
            "--runs-older-than",
            min=0,
            metavar="DAYS",
            show_default=False,
            help="Collect runs started more than DAYS days ago, whatever their state.",
        ),
    ] = None,
    experiment: Annotated[
        list[str] | None,
        typer.Option(
            "--experiment",
            metavar="ID",
            show_default=False,
            help="Only runs and logged models of this experiment (repeatable).",
        ),
    ] = None,
    apply: Annotated[
        bool,
        typer.Option("--apply", help="Delete and record; without it, only show what would go."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON instead of tables.")
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Data directory (env LEDGERFLOW_DATA_DIR).", show_default=False
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(hidden=True, help="The policy's now, ISO-8601 (UTC unless it says)."),
    ] = None,
) -> None:
    """Delete the artifacts of runs deleted (or started) long ago, and of logged models that
    belong only to such runs, never anything a model version that is not deleted references.
    A dry run unless --apply; each run or model collected is recorded as an
    `artifacts.collected` event in the audit log."""
    from services.artifacts.gc import SweepFailed, sweep
    from services.artifacts.retention import RetentionPolicy, policy_now
    from services.artifacts.settings import ArtifactSettings
    from services.gateway.settings import GatewaySettings

    try:
        policy = RetentionPolicy(
            now=policy_now(now),
            deleted_older_than=_span(deleted_older_than),
            runs_older_than=_span(runs_older_than),
            experiments=frozenset(experiment or ()),
        )
    except ValueError as err:
        err_console.print(f"[red]{escape(str(err))}[/red]")
        raise typer.Exit(2) from None
    if any(not e.isdigit() for e in policy.experiments):
        err_console.print("[red]experiment ids are integers[/red]")
        raise typer.Exit(2)
    core = CoreSettings()
    if data_dir is not None:
        core = core.model_copy(update={"data_dir": data_dir})
    gateway = GatewaySettings()

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[files]}/{task.fields[of]} files"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not apply,
    ) as progress:
        try:
            report = asyncio.run(
                sweep(
                    core,
                    KafkaSettings(),
                    ArtifactSettings(),
                    policy,
                    apply=apply,
                    run_projector=gateway.run_projector,
                    verdict_timeout=gateway.verdict_timeout_seconds,
                    progress=_Bar(progress),
                )
            )
            failure = None
        except SweepFailed as err:
            report, failure = err.report, str(err)
    if as_json:
        typer.echo(orjson.dumps(report.json(), option=orjson.OPT_INDENT_2).decode())
    else:
        _show(report)
    if failure is not None:
        err_console.print(f"[red]gc stopped: {escape(failure)}[/red]")
        raise typer.Exit(1)


def _span(days: float | None) -> timedelta | None:
    return None if days is None else timedelta(days=days)


def _show(report: GcReport) -> None:
    verb = "collected" if report.applied else "would be collected (dry run)"
    console.print(f"policy: {escape(report.plan.policy.describe())}")
    if report.sweeps:
        table = Table(title=f"artifacts {verb}", show_footer=True)
        table.add_column("kind", footer="total")
        table.add_column("id")
        table.add_column("experiment", justify="right")
        table.add_column("reason")
        files = report.files
        table.add_column("files", justify="right", footer=str(files))
        table.add_column(
            "freed" if report.applied else "bytes",
            justify="right",
            footer=f"{decimal(report.bytes)} ({report.bytes})",
        )
        for entry in report.json()["collected"]:
            table.add_row(
                entry["kind"],
                entry["id"],
                entry["experiment_id"],
                escape(entry["reason"]),
                str(entry["files"]),
                decimal(entry["bytes"]),
            )
        console.print(table)
    if report.plan.keep:
        kept = Table(title="named by the policy but kept")
        kept.add_column("kind")
        kept.add_column("id")
        kept.add_column("experiment", justify="right")
        kept.add_column("named because")
        kept.add_column("kept because")
        for retained in report.plan.keep:
            kept.add_row(
                retained.owner.kind,
                retained.owner.id,
                retained.owner.experiment_id,
                escape(retained.reason),
                escape(retained.detail),
            )
        console.print(kept)
    for changed in report.json()["changed"]:
        console.print(
            f"skipped {changed['kind']} {changed['id']}: changed since the survey "
            f"({escape(changed['now'])})"
        )
    owners = len(report.sweeps)
    if not owners:
        console.print("nothing to collect")
    elif report.applied:
        events = sum(len(s.event_ids) for s in report.sweeps)
        console.print(
            f"freed {decimal(report.bytes)}: {report.files} files of {owners} runs/models, "
            f"recorded in {events} artifacts.collected event(s)"
        )
    else:
        console.print(
            f"dry run: {report.files} files ({decimal(report.bytes)}) of {owners} runs/models "
            "would be deleted; run again with --apply to delete them"
        )
    if report.empty:
        console.print(f"{report.empty} named run(s)/model(s) hold no files (already collected)")
