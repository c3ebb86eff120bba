"""`ledgerflow promote`: a promotion gate for CI/CD.

Gathers the candidate version's evidence and that of the version it would replace (the latest
version in the target stage, or the one the alias points at) from the gateway, evaluates the
`--require` conditions with the pure code in `services.registry.promotion`, prints the comparison,
records the decision with its evidence (`promotion.decided`, attributed to the caller), and only
when every condition passed applies the promotion through the ordinary MLflow endpoint.

Exit codes: 0 promoted; 1 a condition failed (only the decision was recorded); 2 usage errors
(bad options or condition syntax, unknown model or version; nothing recorded); 3 the gateway is
unreachable or failed.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from services.cli_registry import (
    DEFAULT_TRACKING_URI,
    Gateway,
    GatewayError,
    TrackingUri,
    console,
    err_console,
    fail,
)
from services.registry import RegistryError, canonical_stage
from services.registry.promotion import (
    Condition,
    ConditionError,
    Evidence,
    evaluate_gate,
    parse_condition,
    show,
)

EXIT_PROMOTED, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3

_MLFLOW = "/api/2.0/mlflow"
_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


def _gateway_failure(err: GatewayError, doing: str) -> typer.Exit:
    return fail(f"{doing}: {err.message}", EXIT_USAGE if err.client_error else EXIT_UNAVAILABLE)


# ---------------------------------------------------------------------------------------------
# Evidence


def _latest_metrics(entries: list[dict[str, Any]]) -> dict[str, float]:
    """A logged model's metrics may hold several points per key: the latest by (step, time)."""
    best: dict[str, tuple[int, int, float]] = {}
    for m in entries:
        point = (int(m.get("step", 0) or 0), int(m.get("timestamp", 0) or 0), float(m["value"]))
        if m["key"] not in best or point[:2] >= best[m["key"]][:2]:
            best[m["key"]] = point
    return {key: point[2] for key, point in best.items()}


def artifact_path(uri: str) -> str | None:
    """`mlflow-artifacts:/1/abc/artifacts/model` -> `1/abc/artifacts/model`; None for stores the
    gateway does not proxy (s3://, file://...)."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "mlflow-artifacts":
        return None
    return parsed.path.strip("/")


def _has_signature(gateway: Gateway, name: str, number: int) -> bool | None:
    """Whether the version's MLmodel declares a signature; None when it cannot be read."""
    import yaml

    uri = gateway.get(
        f"{_MLFLOW}/model-versions/get-download-uri", {"name": name, "version": str(number)}
    ).get("artifact_uri", "")
    path = artifact_path(str(uri))
    if path is None:
        return None
    try:
        text = gateway.download(f"{_ARTIFACTS}/{urllib.parse.quote(path)}/MLmodel")
    except GatewayError as err:
        if err.client_error:
            return None
        raise
    try:
        mlmodel = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return isinstance(mlmodel, dict) and bool(mlmodel.get("signature"))


def gather_evidence(gateway: Gateway, name: str, version: dict[str, Any]) -> Evidence:
    """A version's latest run metrics (its logged model's metrics taking precedence), run params,
    version tags and whether its MLmodel has a signature."""
    number = int(version["version"])
    metrics: dict[str, float] = {}
    params: dict[str, str] = {}
    run_id = version.get("run_id") or None
    if run_id:
        try:
            data = gateway.get(f"{_MLFLOW}/runs/get", {"run_id": run_id})["run"].get("data", {})
        except GatewayError as err:
            if not err.client_error:
                raise
            data = {}  # the run is gone: its metrics count as missing
        metrics = {m["key"]: float(m["value"]) for m in data.get("metrics", [])}
        params = {p["key"]: str(p.get("value", "")) for p in data.get("params", [])}
    model_id = version.get("model_id") or None
    if model_id:
        try:
            model = gateway.get(f"{_MLFLOW}/logged-models/{urllib.parse.quote(model_id)}")["model"]
            metrics.update(_latest_metrics(model.get("data", {}).get("metrics", [])))
        except GatewayError as err:
            if not err.client_error:
                raise
    return Evidence(
        version=number,
        metrics=metrics,
        params=params,
        tags={t["key"]: t.get("value", "") for t in version.get("tags", [])},
        signature=_has_signature(gateway, name, number),
        run_id=run_id,
    )


def current_version(
    gateway: Gateway, name: str, candidate: int, stage: str | None, alias: str | None
) -> dict[str, Any] | None:
    """The version the promotion would replace: the latest version in ``stage`` or the one
    ``alias`` points at; None when there is none, or it is the candidate itself."""
    if stage is not None:
        found = gateway.post(
            f"{_MLFLOW}/registered-models/get-latest-versions", {"name": name, "stages": [stage]}
        ).get("model_versions", [])
        number = next((int(v["version"]) for v in found), None)
    else:
        model = gateway.get(f"{_MLFLOW}/registered-models/get", {"name": name})
        aliases = model["registered_model"].get("aliases", [])
        number = next((int(a["version"]) for a in aliases if a["alias"] == alias), None)
    if number is None or number == candidate:
        return None
    return gateway.get(f"{_MLFLOW}/model-versions/get", {"name": name, "version": str(number)})[
        "model_version"
    ]


# ---------------------------------------------------------------------------------------------
# The command


def _parse_all(texts: list[str]) -> list[Condition]:
    conditions = []
    for text in texts:
        try:
            conditions.append(parse_condition(text))
        except ConditionError as err:
            raise fail(str(err), EXIT_USAGE) from None
    return conditions


def _gate_table(title: str, candidate: int, current: int | None, results: list[Any]) -> Table:
    table = Table(title=escape(title))
    table.add_column("condition")
    table.add_column(f"candidate (v{candidate})", justify="right")
    table.add_column(f"current (v{current})" if current else "current (none)", justify="right")
    table.add_column("result")
    table.add_column("detail")
    for result in results:
        table.add_row(
            escape(result.expression),
            escape(show(result.candidate)),
            escape(show(result.current)),
            "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]",
            escape(result.detail or ""),
        )
    return table


def promote(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[int, typer.Argument(help="The candidate version.", min=1)],
    to: Annotated[
        str | None, typer.Option("--to", help="Target stage: Staging, Production, Archived.")
    ] = None,
    alias: Annotated[
        str | None, typer.Option("--alias", help="Target alias, e.g. champion.")
    ] = None,
    require: Annotated[
        list[str] | None,
        typer.Option(
            "--require",
            help="A condition, repeatable: e.g. 'metrics.auc_roc >= current.auc_roc - 0.005', "
            "'metrics.loss < 0.3', 'signature', \"tags.validated == 'true'\", 'tag:validated'.",
        ),
    ] = None,
    archive_existing: Annotated[
        bool,
        typer.Option(
            "--archive-existing", help="With --to: archive the versions now in that stage."
        ),
    ] = False,
    tracking_uri: TrackingUri = DEFAULT_TRACKING_URI,
) -> None:
    """Promote a model version to a stage or alias if every --require condition holds against
    the version it replaces. Records the decision with its evidence either way. Exit 0 promoted,
    1 a condition failed, 2 usage error, 3 gateway unavailable."""
    if (to is None) == (alias is None):
        raise fail("give exactly one of --to STAGE and --alias ALIAS", EXIT_USAGE)
    if archive_existing and alias is not None:
        raise fail("--archive-existing applies to --to STAGE only", EXIT_USAGE)
    stage = None
    if to is not None:
        try:
            stage = canonical_stage(to)
        except RegistryError as err:
            raise fail(err.message, EXIT_USAGE) from None
    conditions = _parse_all(require or [])
    target = stage if stage is not None else f"@{alias}"
    try:
        with Gateway(tracking_uri) as gateway:
            exit_code = _run(gateway, name, version, stage, alias, conditions, archive_existing)
    except GatewayError as err:
        raise _gateway_failure(err, f"promoting {name} v{version} to {target}") from None
    raise typer.Exit(exit_code)


def _run(
    gateway: Gateway,
    name: str,
    number: int,
    stage: str | None,
    alias: str | None,
    conditions: list[Condition],
    archive_existing: bool,
) -> int:
    candidate_json = gateway.get(
        f"{_MLFLOW}/model-versions/get", {"name": name, "version": str(number)}
    )["model_version"]
    current_json = current_version(gateway, name, number, stage, alias)
    candidate = gather_evidence(gateway, name, candidate_json)
    current = gather_evidence(gateway, name, current_json) if current_json else None
    passed, results = evaluate_gate(conditions, candidate, current)
    target = stage if stage is not None else f"@{alias}"
    replaced = current.version if current else None
    title = f"promotion gate: {name} v{number} → {target}"
    title += f" (replacing v{replaced})" if replaced else " (nothing to replace)"
    if results:
        console.print(_gate_table(title, number, replaced, results))
    else:
        console.print(f"{escape(title)}: no conditions")

    decision = {
        "name": name,
        "version": number,
        "target_stage": stage,
        "target_alias": alias,
        "replaced_version": replaced,
        "passed": passed,
        "conditions": [r.model_dump(mode="json") for r in results],
    }
    recorded = gateway.post("/api/ledgerflow/registry/promotions", decision)
    actor = recorded.get("actor", {})
    console.print(
        f"decision recorded at audit seq {recorded.get('seq')} by "
        f"{escape(str(actor.get('name')))} ({actor.get('kind')})"
    )
    if not passed:
        failed = sum(1 for r in results if not r.passed)
        err_console.print(
            f"[red]not promoted:[/red] {failed} of {len(results)} conditions failed; "
            f"{escape(name)} is unchanged"
        )
        return EXIT_FAILED
    try:
        if stage is not None:
            gateway.post(
                f"{_MLFLOW}/model-versions/transition-stage",
                {
                    "name": name,
                    "version": str(number),
                    "stage": stage,
                    "archive_existing_versions": archive_existing,
                },
            )
        else:
            gateway.post(
                f"{_MLFLOW}/registered-models/alias",
                {"name": name, "alias": alias, "version": str(number)},
            )
    except GatewayError as err:
        err_console.print(
            f"[red]the decision passed and was recorded, but applying it failed:[/red] "
            f"{escape(err.message)}"
        )
        return EXIT_UNAVAILABLE
    console.print(f"[green]promoted[/green] {escape(name)} v{number} → {escape(target)}")
    return EXIT_PROMOTED
