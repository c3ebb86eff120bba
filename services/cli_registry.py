"""`ledgerflow registry ...`: a registered model's history and the registry as of a moment, read
from a ledgerflow gateway over HTTP and shown as tables; and the small HTTP client the registry
commands (this module and `ledgerflow promote`) share.

The client sends the credentials the mlflow client would (MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD as Basic, or MLFLOW_TRACKING_TOKEN as Bearer), so what the commands
record is attributed to the same principal.
"""

from __future__ import annotations

import logging
import os
import sys
import urllib.parse
from collections.abc import Mapping
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"

# Piped into a CI log, rich would assume 80 columns and fold every table: give tables room.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)

registry_app = typer.Typer(
    help="The model registry's history and its state at any past moment.", no_args_is_help=True
)

TrackingUri = Annotated[
    str,
    typer.Option(
        "--tracking-uri",
        envvar="MLFLOW_TRACKING_URI",
        help="The ledgerflow gateway (env MLFLOW_TRACKING_URI).",
    ),
]


class GatewayError(Exception):
    """A request the gateway refused (``status`` 4xx/5xx, MLflow's error code) or never got
    (``status`` None: unreachable)."""

    def __init__(self, message: str, status: int | None = None, error_code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code

    @property
    def client_error(self) -> bool:
        return self.status is not None and 400 <= self.status < 500


def http_base(tracking_uri: str) -> str:
    """The gateway's base URL; `ledgerflow+kafka://host:port` (the SDK plugin's URI) is its
    gateway at http://host:port. Anything but http(s) is refused with GatewayError."""
    parsed = urllib.parse.urlparse(tracking_uri)
    if parsed.scheme == "ledgerflow+kafka" and parsed.netloc:
        tls = dict(urllib.parse.parse_qsl(parsed.query)).get("tls", "").lower()
        scheme = "https" if tls in ("1", "true", "yes") else "http"
        return f"{scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise GatewayError(
            f"the tracking URI must be the gateway's http(s) address, got {tracking_uri!r}"
        )
    return tracking_uri.rstrip("/")


def _auth_headers() -> dict[str, str]:
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    return {}


def _basic_auth() -> httpx.BasicAuth | None:
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    return httpx.BasicAuth(user, password) if user and password else None


class Gateway:
    """JSON requests to a ledgerflow gateway, failures turned into ``GatewayError``."""

    def __init__(self, tracking_uri: str, timeout: float = 60.0) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per request on stderr
        self.base = http_base(tracking_uri)
        self._http = httpx.Client(
            base_url=self.base,
            auth=_basic_auth(),
            headers={"User-Agent": "ledgerflow-cli", **_auth_headers()},
            timeout=timeout,
        )

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as err:
            raise GatewayError(f"cannot reach the gateway at {self.base}: {err}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            if not isinstance(body, dict):
                body = {}
            code = body.get("error_code")
            message = body.get("message") or response.text[:200] or response.reason_phrase
            raise GatewayError(
                f"{code + ': ' if code else ''}{message} (HTTP {response.status_code})",
                response.status_code,
                code,
            )
        return response

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = self._send("GET", path, params=params).json()
        return body

    def post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = self._send("POST", path, json=dict(payload)).json()
        return body

    def download(self, path: str) -> bytes:
        return self._send("GET", path).content


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


# ---------------------------------------------------------------------------------------------
# Rendering


def short_time(iso: str | None) -> str:
    """2024-03-03T09:15:00.123456Z -> 2024-03-03 09:15:00.123Z"""
    if not iso:
        return "-"
    day, _, clock = iso.partition("T")
    seconds, dot, fraction = clock.rstrip("Z").partition(".")
    return f"{day} {seconds}{dot}{fraction[:3]}Z"


def actor_text(actor: Mapping[str, Any]) -> str:
    name = escape(str(actor.get("name", "?")))
    kind = actor.get("kind")
    if kind == "self_reported":
        return f"{name} [yellow](self-reported)[/yellow]"
    if kind == "authenticated":
        return f"{name} [green](authenticated)[/green]"
    return f"[dim]{name}[/dim]" if kind == "anonymous" else f"{name} [dim]({kind})[/dim]"


def _value(value: Any) -> str:
    if value is None:
        return "∅"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def change_text(change: Mapping[str, Any]) -> str:
    """One field change as a short phrase, e.g. `v3 stage None→Production`, `alias champion→3`."""
    field, was, now = change["field"], change.get("before"), change.get("after")
    version = f"v{change['version']} " if "version" in change else ""
    if field == "model":
        return f"model {'created' if was is None else 'deleted'}"
    if field == "version":
        return f"{version}{now}"
    if field == "alias":
        alias = change["alias"]
        if was is None:
            return f"alias {alias}→{now}"
        if now is None:
            return f"alias {alias} removed (was {was})"
        return f"alias {alias} {was}→{now}"
    if field in ("tag", "version_tag"):
        if was is None:
            return f"{version}tag {change['key']}={_value(now)}"
        if now is None:
            return f"{version}tag {change['key']} removed"
        return f"{version}tag {change['key']}: {_value(was)}→{_value(now)}"
    if field == "stage":
        return f"{version}stage {was}→{now}"
    label = "description" if field in ("description", "version_description") else field
    return f"{version}{label} {_value(was)}→{_value(now)}"


def promotion_text(payload: Mapping[str, Any]) -> str:
    target = payload.get("target_stage") or f"@{payload.get('target_alias')}"
    replaced = payload.get("replaced_version")
    verdict = "[green]PASSED[/green]" if payload.get("passed") else "[red]FAILED[/red]"
    lines = [
        f"promote v{payload.get('version')} → {escape(str(target))}"
        + (f" (replacing v{replaced})" if replaced else "")
        + f": {verdict}"
    ]
    for condition in payload.get("conditions", []):
        mark = "[green]✓[/green]" if condition.get("passed") else "[red]✗[/red]"
        detail = condition.get("detail")
        lines.append(
            f"  {mark} {escape(str(condition.get('expression')))}"
            + (f" [dim]({escape(str(detail))})[/dim]" if detail else "")
        )
    return "\n".join(lines)


def _what_changed(entry: Mapping[str, Any]) -> str:
    if entry.get("event_type") == "promotion.decided":
        return promotion_text(entry.get("payload", {}))
    if entry.get("verdict") == "rejected":
        return "[dim](nothing: rejected)[/dim]"
    found = [escape(change_text(c)) for c in entry.get("changes", [])]
    return "\n".join(found) if found else "[dim](no change)[/dim]"


def history_table(body: Mapping[str, Any]) -> Table:
    title = f"history of {body.get('name')}"
    if body.get("version"):
        title += f" version {body['version']}"
    table = Table(title=escape(title), show_lines=True)
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("time", no_wrap=True)
    table.add_column("actor", no_wrap=True)
    table.add_column("event", no_wrap=True)
    table.add_column("verdict", max_width=40)
    table.add_column("what changed")
    for entry in body.get("entries", []):
        if entry.get("verdict") == "accepted":
            verdict = "[green]accepted[/green]"
        else:
            reason = entry.get("reason") or ""
            verdict = f"[red]rejected[/red] {escape(str(entry.get('error_code') or ''))}"
            verdict += f"\n{escape(reason)}" if reason else ""
        table.add_row(
            str(entry.get("seq")),
            short_time(entry.get("recorded_at") or entry.get("occurred_at")),
            actor_text(entry.get("actor", {})),
            escape(str(entry.get("event_type"))),
            verdict,
            _what_changed(entry),
        )
    return table


def _tags_text(tags: Any) -> str:
    return ", ".join(f"{t['key']}={_value(t.get('value'))}" for t in tags or []) or "-"


def state_tables(body: Mapping[str, Any]) -> list[Table]:
    tables = []
    for model in body.get("registered_models", []):
        aliases = ", ".join(f"{a['alias']}→v{a['version']}" for a in model.get("aliases", []))
        caption = f"tags: {_tags_text(model.get('tags'))}; aliases: {aliases or '-'}"
        if model.get("description"):
            caption += f"; description: {model['description']}"
        table = Table(title=escape(str(model["name"])), caption=escape(caption))
        for column in ("version", "stage", "aliases", "tags", "description", "created by", "run"):
            table.add_column(column)
        for version in model.get("model_versions", []):
            table.add_row(
                str(version.get("version")),
                escape(str(version.get("current_stage"))),
                escape(", ".join(version.get("aliases", [])) or "-"),
                escape(_tags_text(version.get("tags"))),
                escape(_value(version.get("description")) if version.get("description") else "-"),
                escape(str(version.get("user_id") or "-")),
                escape(str(version.get("run_id") or "-")),
            )
        tables.append(table)
    return tables


# ---------------------------------------------------------------------------------------------
# Commands


@registry_app.command("history")
def history(
    name: Annotated[
        str, typer.Argument(help="Registered model name (its life under earlier names included).")
    ],
    version: Annotated[
        int | None, typer.Option("--version", help="Only this version's events.", min=1)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON instead.")] = False,
    tracking_uri: TrackingUri = DEFAULT_TRACKING_URI,
) -> None:
    """Every event in the life of a registered model (or one version), in order: who, when,
    the verdict and what changed; promotion decisions with their conditions."""
    quoted = urllib.parse.quote(name, safe="")
    path = f"/api/ledgerflow/registry/models/{quoted}"
    path += f"/versions/{version}/history" if version is not None else "/history"
    try:
        with Gateway(tracking_uri) as gateway:
            body = gateway.get(path)
    except GatewayError as err:
        raise fail(err.message) from None
    if as_json:
        console.print_json(data=body)
        return
    console.print(history_table(body))


@registry_app.command("show")
def show(
    name: Annotated[
        str | None, typer.Argument(help="Registered model name; all models if omitted.")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="An ISO-8601 time (UTC unless it has an offset) or an audit sequence number. "
            "Omitted: now.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON instead.")] = False,
    tracking_uri: TrackingUri = DEFAULT_TRACKING_URI,
) -> None:
    """The registry as it was at a moment: versions with their stage, aliases, tags and
    description."""
    params: dict[str, str] = {}
    if at is not None:
        params["as_of_seq" if at.strip().isdigit() else "as_of"] = at.strip()
    if name:
        params["name"] = name
    try:
        with Gateway(tracking_uri) as gateway:
            body = gateway.get("/api/ledgerflow/registry/state", params)
    except GatewayError as err:
        raise fail(err.message) from None
    if as_json:
        console.print_json(data=body)
        return
    point = body.get("as_of", {})
    last = body.get("last_event")
    when = (
        f"seq {point['seq']}"
        if point.get("seq") is not None
        else short_time(point.get("time"))
        if point.get("time")
        else "now"
    )
    since = (
        f"last change: seq {last['seq']} at {short_time(last['recorded_at'])}"
        if last
        else "no registry events yet"
    )
    console.print(f"registry as of {when} ({since})")
    tables = state_tables(body)
    for table in tables:
        console.print(table)
    if not tables:
        console.print("[dim]no registered models[/dim]")
