"""Our parser against MLflow 3.x's own (the test extra pins mlflow): same clauses, same refusals.

MLflow validates in two places, ``SearchUtils`` (parsing) and the SQL store (comparators); both
are run here, the store's with a stand-in session since no query is executed. MLflow prints
Python sets whose order changes from process to process, so both sides' sets are compared
sorted.
"""

from __future__ import annotations

import ast
import re
from typing import Any
from unittest import mock

import pytest

from services.search import EXPERIMENT_SPEC, RUN_SPEC, SearchError, parse_filter, parse_order_by
from services.search.grammar import MLFLOW_NAME, render_set

search_utils = pytest.importorskip("mlflow.utils.search_utils")
sqlalchemy_store = pytest.importorskip("mlflow.store.tracking.sqlalchemy_store")
MlflowException = pytest.importorskip("mlflow.exceptions").MlflowException

_SET = re.compile(r"\{'[^{}]*'\}")


def normalised(message: str) -> str:
    return _SET.sub(lambda m: render_set(ast.literal_eval(m.group())), message)


def ours(kind: str, text: str) -> Any:
    spec = RUN_SPEC if kind == "runs" else EXPERIMENT_SPEC
    try:
        return [(MLFLOW_NAME[c.entity], c.key, c.op, c.value) for c in parse_filter(text, spec)]
    except SearchError as err:
        return normalised(err.message)


def _mlflow_value(entity: str, value: Any) -> Any:
    return float(value) if entity == "metric" else value


def theirs(kind: str, text: str) -> Any:
    utils = search_utils.SearchUtils if kind == "runs" else search_utils.SearchExperimentsUtils
    try:
        parsed = utils.parse_search_filter(text)
        if kind == "runs":
            sqlalchemy_store._get_sqlalchemy_filter_clauses(parsed, mock.MagicMock(), "postgresql")
        else:
            sqlalchemy_store._get_search_experiments_filter_clauses(parsed, "postgresql")
    except MlflowException as err:
        return normalised(err.message)
    return [
        (
            p["type"],
            utils.translate_key_alias(p["key"]) if p["type"] == "attribute" else p["key"],
            p["comparator"].upper(),
            _mlflow_value(p["type"], p["value"]),
        )
        for p in parsed
    ]


RUN_FILTERS = [
    "",
    "metrics.acc > 0.5",
    "metric.acc >= 1",
    "metrics.acc < -1",
    "metrics.acc <= .5",
    "metrics.acc = 1e5",
    "metrics.acc != -1.5e-3",
    "metrics.acc = 01",
    "metrics.acc>1",
    "metrics.acc <> 1",
    "metrics.acc == 1",
    "metrics.acc LIKE 1",
    "metrics.acc = 'x'",
    'metrics.acc = "x"',
    "metrics.acc = x",
    "metrics.acc = 1e",
    "metrics.acc IN ('1')",
    "metrics.acc IS NULL",
    "metrics.`my metric` > 1",
    'metrics."my metric" > 1',
    "metrics.'my metric' > 1",
    "metrics.a.b > 1",
    "metrics.`a.b` > 1",
    "`metrics`.acc > 1",
    "params.lr = '0.1'",
    'params.lr = "0.1"',
    "parameter.lr = '0.1'",
    "parameters.lr = '0.1'",
    "param.lr = '0.1'",
    "params.lr != '0.1'",
    "params.lr LIKE '0.%'",
    "params.lr like '0.%'",
    "params.lr ILIKE '0.%'",
    "params.lr ilike '0.%'",
    "params.lr IS NULL",
    "params.lr is null",
    "params.lr IS NOT NULL",
    "params.lr Is Not Null",
    "params.lr NOT LIKE 'x'",
    "params.lr RLIKE 'x'",
    "params.lr > '1'",
    "params.lr = 1",
    "params.lr = RUNNING",
    "params.lr = `x`",
    "params.lr = NULL",
    "params.lr IN ('a')",
    "params.lr = 'it''s'",
    "params.lr = 'a\\'b'",
    "params.lr = ''",
    "params.`a b` = 'x'",
    "params.\"a b\" = 'x'",
    "tags.team = 'x'",
    "tag.team = 'x'",
    "tags.`mlflow.source.name` = 'train.py'",
    "tags.team != 'x'",
    "tags.team LIKE 'x%'",
    "tags.team ILIKE 'x%'",
    "tags.team IS NULL",
    "tags.team IS NOT NULL",
    "tags.team < 'x'",
    "tags.team = 5",
    "attributes.status = 'RUNNING'",
    "attribute.status = 'RUNNING'",
    "attr.status = 'RUNNING'",
    "run.status = 'RUNNING'",
    "status = 'RUNNING'",
    "status = RUNNING",
    "status != 'RUNNING'",
    "status LIKE 'RUN%'",
    "status ILIKE 'run%'",
    "status > 'A'",
    "status IN ('A', 'B')",
    "status IS NULL",
    "user_id = 'alice'",
    "artifact_uri LIKE 's3://%'",
    "run_id = 'abc'",
    "run_id IN ('a', 'b')",
    "run_id in ('a')",
    "run_id IN ('a',)",
    "run_id IN (\"a\", 'b')",
    "run_id NOT IN ('a', 'b')",
    "run_id not in ('a')",
    "run_id IN ()",
    "run_id IN (1, 2)",
    "run_id IN ('a', 1)",
    "run_id IN ('a',,'b')",
    "run_id IN ('a' 'b')",
    "run_id IN ('a\\'b')",
    "run_name = 'x'",
    "run_name LIKE 'x%'",
    "`run name` = 'x'",
    "`Run name` = 'x'",
    "`Run Name` = 'x'",
    "\"Run Name\" = 'x'",
    "attributes.`run name` = 'x'",
    "start_time > 5",
    "start_time >= 1.5",
    "created < 5",
    "Created <= 5",
    "end_time = 1",
    "end_time != 1",
    "start_time > '5'",
    "start_time > x",
    "start_time LIKE 5",
    "start_time IN ('1')",
    "lifecycle_stage = 'active'",
    "experiment_id = '1'",
    "attributes.foo = 'x'",
    "datasets.name = 'train'",
    "dataset.name = 'train'",
    "datasets.digest != 'abc'",
    "datasets.context LIKE 'train%'",
    "datasets.context ILIKE 'TRAIN%'",
    "datasets.name IN ('a', 'b')",
    "datasets.digest NOT IN ('a')",
    "datasets.name > 'a'",
    "datasets.name IS NULL",
    "datasets.name = 1",
    "datasets.foo = 'x'",
    "foo.bar = 'x'",
    "metrics.acc > 1 AND params.lr = '0.1'",
    "metrics.acc > 1 and params.lr = '0.1' AND tags.x = 'y'",
    "metrics.acc > 1 AND",
    "AND metrics.acc > 1",
    "metrics.acc > 1 AND AND params.lr = 'x'",
    "metrics.acc > 1 params.lr = 'x'",
    "metrics.acc > 1 OR params.lr = 'x'",
    "metrics.acc > 1 or params.lr = 'x' OR tags.a = 'b'",
    "(metrics.acc > 1)",
    "(metrics.acc > 1 AND params.lr = 'x') OR tags.a = 'b'",
    "metrics.acc > 1 AND (params.lr = 'x' OR tags.a = 'b')",
    "metrics.acc > 1 AND NOT params.lr = 'x'",
    "metrics.acc >",
    "metrics.acc",
    "= 'x'",
    "metrics.acc > +1",
    "metrics.acc > - 1",
    "metrics.acc = 1 2",
    "params.lr = 'x",
    "params.lr IS 'x'",
    "params.lr IS NOT 'x'",
    "params.lr = 'x';",
    "params.lr = 'x'; params.b = 'y'",
    "   ",
    "metrics.acc > 1 AND lifecycle_stage = 'x'",
    "metrics.acc = 'x' AND params.a > '1'",
    "params.a > '1' AND metrics.acc = 'x'",
]

EXPERIMENT_FILTERS = [
    "",
    "name = 'a'",
    "name != 'a'",
    "name LIKE 'a%'",
    "name ILIKE 'a%'",
    "attribute.name = 'a'",
    "`name` = 'a'",
    "name > 'a'",
    "name IN ('a')",
    "name IS NULL",
    "name = a",
    "name = 1",
    "experiment_id = '1'",
    "experiment_id != '1'",
    "experiment_id IN ('1', '2')",
    "experiment_id NOT IN ('1')",
    "experiment_id > '1'",
    "experiment_id LIKE '1'",
    "experiment_id = 1",
    "creation_time > 5",
    "creation_time <= 5",
    "last_update_time != 3",
    "creation_time > '5'",
    "creation_time = x",
    "creation_time LIKE 5",
    "creation_time IN ('1')",
    "tags.a = 'x'",
    "tag.a = 'x'",
    "tags.a != 'x'",
    "tags.a LIKE 'x%'",
    "tags.a ILIKE 'x%'",
    "tags.a IS NULL",
    "tag.a is not null",
    "tags.a > 'x'",
    "tags.a IN ('x')",
    "tags.a = 1",
    "tags.`a.b` = 'x'",
    "metrics.a > 1",
    "attr.name = 'x'",
    "attributes.name = 'x'",
    "params.a = 'x'",
    "foo = 'x'",
    "name = 'x' AND tags.a = 'y'",
    "name = 'x' OR name = 'y'",
    "(name = 'x')",
    "name = 'x' AND",
]


@pytest.mark.parametrize("text", RUN_FILTERS)
def test_run_filters_match_mlflow(text: str) -> None:
    assert ours("runs", text) == theirs("runs", text)


@pytest.mark.parametrize("text", EXPERIMENT_FILTERS)
def test_experiment_filters_match_mlflow(text: str) -> None:
    assert ours("experiments", text) == theirs("experiments", text)


def _ours_order(kind: str, clauses: list[str]) -> Any:
    spec = RUN_SPEC if kind == "runs" else EXPERIMENT_SPEC
    try:
        return [(MLFLOW_NAME[k.entity], k.key, k.ascending) for k in parse_order_by(clauses, spec)]
    except SearchError as err:
        return normalised(err.message)


def _theirs_order(kind: str, clauses: list[str]) -> Any:
    utils = search_utils.SearchUtils if kind == "runs" else search_utils.SearchExperimentsUtils
    try:
        if kind == "runs":
            sqlalchemy_store._get_orderby_clauses(clauses, mock.MagicMock())
            parsed = [utils.parse_order_by_for_search_runs(c) for c in clauses]
        else:
            sqlalchemy_store._get_search_experiments_order_by_clauses(clauses)
            parsed = [utils.parse_order_by_for_search_experiments(c) for c in clauses]
    except MlflowException as err:
        return normalised(err.message)
    out: list[tuple[str, str, bool]] = []
    for entity, key, ascending in parsed:
        entry = (
            entity,
            utils.translate_key_alias(key) if entity == "attribute" else key,
            ascending,
        )
        if entry[:2] not in [e[:2] for e in out]:  # experiments: a repeat changes nothing
            out.append(entry)
    return out


RUN_ORDERS = [
    ["metrics.acc"],
    ["metrics.acc DESC"],
    ["metrics.acc desc"],
    ["metrics.acc  asc"],
    ["metrics.acc\tDESC"],
    ["metrics.acc SIDEWAYS"],
    ["metrics.acc DESC ASC"],
    ["metrics.acc "],
    [" metrics.acc"],
    [""],
    ["metrics.acc, metrics.b"],
    ["metrics.acc = 1"],
    ["metrics.acc-1"],
    ["(metrics.acc)"],
    ["metrics.acc NULLS LAST"],
    ["metrics.`my metric` DESC"],
    ['metrics."my metric" DESC'],
    ["metrics.'my metric' DESC"],
    ["metrics.my metric DESC"],
    ["metrics.a.b"],
    ["`metrics`.a"],
    ["params.lr", "tags.team DESC"],
    ["param.lr"],
    ["tag.team"],
    ["attributes.start_time"],
    ["attr.start_time DESC"],
    ["run.end_time"],
    ["start_time"],
    ["created"],
    ["Created DESC"],
    ["run_name"],
    ["run name"],
    ["Run Name"],
    ["`run name`"],
    ["status", "user_id DESC", "artifact_uri", "run_id"],
    ["experiment_id"],
    ["lifecycle_stage"],
    ["timestamp"],
    ["foo.bar"],
    ["datasets.name"],
    ["metrics.acc", "metrics.acc DESC"],
    ["created", "start_time DESC"],
    ["metrics.acc", "params.acc"],
]
EXPERIMENT_ORDERS = [
    ["name"],
    ["name DESC"],
    ["experiment_id asc"],
    ["attribute.name"],
    ["`name`"],
    ["creation_time", "last_update_time DESC"],
    ["name", "name DESC"],
    ["attr.name"],
    ["tags.x"],
    ["tag.x"],
    ["metrics.x"],
    ["foo"],
    ["name SIDEWAYS"],
    ["name, experiment_id"],
]


@pytest.mark.parametrize("clauses", RUN_ORDERS, ids=repr)
def test_run_orders_match_mlflow(clauses: list[str]) -> None:
    assert _ours_order("runs", clauses) == _theirs_order("runs", clauses)


@pytest.mark.parametrize("clauses", EXPERIMENT_ORDERS, ids=repr)
def test_experiment_orders_match_mlflow(clauses: list[str]) -> None:
    assert _ours_order("experiments", clauses) == _theirs_order("experiments", clauses)
