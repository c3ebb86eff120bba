"""deploy/grafana: the provisioned data source is the read-only role docker-compose creates, the
example dashboard parses, and every query in it (panels and variables, with Grafana's macros
and variables expanded as Grafana expands them) runs as that role against real data."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from tests.integration.bi.conftest import Filled, Reader
from tests.unit.test_deploy import compose_config

GRAFANA = Path(__file__).resolve().parents[3] / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "ledgerflow.json"
DATASOURCE = GRAFANA / "provisioning" / "datasources" / "ledgerflow.yml"
FROM, TO = "2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z"
INTERVALS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found += panels(panel) if "panels" in panel else [panel]
    return found


def seconds(interval: str) -> int:
    match = re.fullmatch(r"'?(\d+)([smhd])'?", interval.strip())
    assert match, interval
    return int(match[1]) * INTERVALS[match[2]]


def quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def expand(sql: str, variables: dict[str, list[str]]) -> str:
    """Grafana's PostgreSQL macros and template variables, as Grafana expands them."""
    sql = sql.replace("$__interval", "1h")
    sql = re.sub(
        r"\$__timeFilter\(([^)]*)\)",
        lambda m: f"{m[1]} BETWEEN '{FROM}' AND '{TO}'",
        sql,
    )

    def group(m: re.Match[str]) -> str:
        column, interval = (part.strip() for part in m[1].split(",", 1))
        step = seconds(interval)
        return f'floor(extract(epoch from {column})/{step})*{step} AS "time"'

    sql = re.sub(r"\$__timeGroupAlias\(([^)]*)\)", group, sql)
    for name, values in variables.items():
        sql = sql.replace(f"${{{name}:sqlstring}}", ",".join(quoted(v) for v in values))
        # multi-value variables become a quoted list; single values are put in as they are
        plain = ",".join(quoted(v) for v in values) if len(values) > 1 else values[0]
        sql = sql.replace(f"${{{name}}}", plain)
        sql = re.sub(rf"\${name}\b", lambda _, plain=plain: plain, sql)
    assert "$" not in sql.replace("$$", ""), f"unexpanded Grafana syntax in:\n{sql}"
    return sql


def test_the_data_source_is_the_role_compose_creates() -> None:
    provisioned = yaml.safe_load(DATASOURCE.read_text())
    (source,) = provisioned["datasources"]
    assert source["type"] == "grafana-postgresql-datasource"
    assert source["jsonData"]["database"] == "${BI_DB_NAME}"
    project = yaml.safe_load(compose_config())
    services = project["services"]
    grafana, grant = services["grafana"], services["bi-grant"]
    env = grafana["environment"]
    assert env["BI_DB_USER"] == grant["command"][grant["command"].index("--role") + 1]
    assert env["BI_DB_PASSWORD"] == grant["environment"]["LEDGERFLOW_BI_PASSWORD"]
    assert env["BI_DB_HOST"] == "postgres:5432"
    assert env["BI_DB_NAME"] == services["postgres"]["environment"]["POSTGRES_DB"]
    assert grant["command"][:3] == ["ledgerflow", "bi", "grant"]
    assert grant["environment"]["LEDGERFLOW_DATABASE_URL"].startswith("postgresql://")
    assert grafana["depends_on"]["bi-grant"]["condition"] == "service_completed_successfully"
    assert grafana["depends_on"]["postgres"]["condition"] == "service_healthy"
    targets = {volume["target"]: volume for volume in grafana["volumes"]}
    assert targets["/etc/grafana/provisioning"]["source"].endswith("deploy/grafana/provisioning")
    assert targets["/etc/grafana/dashboards"]["source"].endswith("deploy/grafana/dashboards")
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "ledgerflow.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    assert "healthcheck" in grafana


def test_the_dashboard_has_the_three_promised_panels_on_that_source() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    uid = yaml.safe_load(DATASOURCE.read_text())["datasources"][0]["uid"]
    titles = [p["title"] for p in panels(dashboard)]
    assert "Runs started" in titles
    assert any(t.startswith("Best ${metric} per experiment") for t in titles)
    assert "Promotions timeline" in titles
    for panel in panels(dashboard):
        assert panel["datasource"]["uid"] == uid
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid and target["rawSql"].strip()
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == uid


@pytest.mark.parametrize(("metric", "goal"), [("acc", "max"), ("loss", "min")])
async def test_every_dashboard_query_runs_as_the_reader(
    filled: Filled, reader: Reader, metric: str, goal: str
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    conn = await reader.connect()
    try:
        options: dict[str, list[asyncpg.Record]] = {}
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                options[variable["name"]] = await conn.fetch(variable["query"])
                assert options[variable["name"]], variable["name"]
        experiments = [str(r["__value"]) for r in options["experiment"]]
        assert {r["__text"] for r in options["experiment"]} >= {"vision", "nlp"}
        assert {r["key"] for r in options["metric"]} == {"acc", "loss", "score"}
        variables = {"experiment": experiments, "metric": [metric], "goal": [goal]}

        results: dict[str, list[asyncpg.Record]] = {}
        for panel in panels(dashboard):
            for target in panel["targets"]:
                results[panel["title"]] = await conn.fetch(expand(target["rawSql"], variables))
    finally:
        await conn.close()

    started = results["Runs started"]
    assert sum(r["runs"] for r in started) == 4  # the deleted run is left out
    assert {r["metric"] for r in started} == {"FINISHED", "RUNNING"}
    best = {
        r["experiment"]: (r["best run"], r["value"])
        for r in results["Best ${metric} per experiment (${goal})"]
    }
    if metric == "acc":  # resnet-c's NaN is left out
        assert best == {"vision": ("resnet-b", pytest.approx(0.6)), "nlp": ("bert-a", 0.9)}
    else:
        assert best["vision"] == ("resnet-a", pytest.approx(0.005))
    timeline = results["Promotions timeline"]
    assert len(timeline) == 7
    gated = [r for r in timeline if r["gate"] != "no gate"]
    assert [r["change"] for r in gated] == ["@champion (from v1)", "None → Production"]
    assert timeline[0]["model"] == "fraud-classifier"
    assert [r["gate"] for r in results["Promotion gate decisions"]] == [
        "failed",
        "passed",
        "passed",
    ]
    assert [r["model"] for r in results["Registry now"]] == ["fraud-classifier", "ranker"]
