"""The filter and order_by parser: every operator, quoting rule, synonym and refusal."""

from __future__ import annotations

import pytest

from services.search import (
    EXPERIMENT_SPEC,
    RUN_SPEC,
    Comparison,
    OrderKey,
    SearchError,
    parse_filter,
    parse_order_by,
)


def one(text: str) -> Comparison:
    (clause,) = parse_filter(text, RUN_SPEC)
    return clause


def refused(text: str, spec: object = RUN_SPEC) -> str:
    with pytest.raises(SearchError) as caught:
        parse_filter(text, spec)  # type: ignore[arg-type]
    return caught.value.message


@pytest.mark.parametrize("text", ["", None])
def test_no_filter_is_no_clause(text: str | None) -> None:
    assert parse_filter(text, RUN_SPEC) == ()


@pytest.mark.parametrize("op", ["=", "!=", ">", ">=", "<", "<="])
def test_metric_comparators(op: str) -> None:
    assert one(f"metrics.acc {op} 0.5") == Comparison("metric", "acc", op, 0.5)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1", 1.0),
        ("-1", -1.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1.", 1.0),
        ("1e3", 1000.0),
        ("2.5E-3", 0.0025),
        ("01", 1.0),
        ("1e999", float("inf")),
    ],
)
def test_numbers(literal: str, value: float) -> None:
    assert one(f"metrics.acc = {literal}").value == value


@pytest.mark.parametrize(
    ("text", "op"),
    [
        ("params.lr = '0.1'", "="),
        ("params.lr != '0.1'", "!="),
        ("params.lr LIKE '0.1'", "LIKE"),
        ("params.lr like '0.1'", "LIKE"),
        ("params.lr ILIKE '0.1'", "ILIKE"),
        ("params.lr iLike '0.1'", "ILIKE"),
    ],
)
def test_param_comparators(text: str, op: str) -> None:
    assert one(text) == Comparison("param", "lr", op, "0.1")


@pytest.mark.parametrize(
    ("text", "op"),
    [
        ("tags.t IS NULL", "IS NULL"),
        ("tags.t is null", "IS NULL"),
        ("tags.t IS NOT NULL", "IS NOT NULL"),
        ("tags.t  is   not   null", "IS NOT NULL"),
    ],
)
def test_null_checks(text: str, op: str) -> None:
    assert one(text) == Comparison("tag", "t", op, None)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("run_id IN ('a', 'b')", ("a", "b")),
        ("run_id in ('a')", ("a",)),
        ("run_id IN ('a',)", ("a",)),
        ("run_id IN (\"a\", 'b' )", ("a", "b")),
        ("run_id IN ('a\\'b')", ("a'b",)),
    ],
)
def test_in_lists(text: str, value: tuple[str, ...]) -> None:
    assert one(text) == Comparison("attribute", "run_id", "IN", value)


def test_not_in() -> None:
    assert one("run_id NOT IN ('a')") == Comparison("attribute", "run_id", "NOT IN", ("a",))
    assert one("datasets.context not in ('train', 'eval')") == Comparison(
        "dataset", "context", "NOT IN", ("train", "eval")
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("tags.`mlflow.source.name` = 'x'", "mlflow.source.name"),
        ('metrics."my metric" = 1', "my metric"),
        ("metrics.`my metric` = 1", "my metric"),
        ("metrics.'my metric' = 1", "my metric"),
        ("metrics.a.b = 1", "a.b"),
        ("`metrics`.acc = 1", "acc"),
    ],
)
def test_quoted_and_dotted_keys(text: str, key: str) -> None:
    assert one(text).key == key


@pytest.mark.parametrize(
    ("prefix", "entity"),
    [
        ("metric", "metric"),
        ("metrics", "metric"),
        ("parameter", "param"),
        ("parameters", "param"),
        ("param", "param"),
        ("params", "param"),
        ("tag", "tag"),
        ("tags", "tag"),
    ],
)
def test_entity_synonyms(prefix: str, entity: str) -> None:
    value = "1" if entity == "metric" else "'1'"
    assert one(f"{prefix}.k = {value}").entity == entity


@pytest.mark.parametrize("prefix", ["attribute.", "attributes.", "attr.", "run.", ""])
def test_attribute_synonyms(prefix: str) -> None:
    assert one(f"{prefix}status = 'RUNNING'") == Comparison("attribute", "status", "=", "RUNNING")


@pytest.mark.parametrize(
    "key", ["run_name", "`run name`", "`Run name`", "`Run Name`", '"Run Name"']
)
def test_run_name_aliases(key: str) -> None:
    assert one(f"{key} = 'x'") == Comparison("attribute", "run_name", "=", "x")


@pytest.mark.parametrize(("key", "value"), [("created", 5), ("Created", 5), ("start_time", 5)])
def test_start_time_aliases(key: str, value: int) -> None:
    assert one(f"{key} > {value}") == Comparison("attribute", "start_time", ">", value)


def test_numeric_attributes_keep_integers_exact() -> None:
    assert one("end_time <= 1700000000000123").value == 1700000000000123
    assert one("end_time <= 1.5").value == 1.5


def test_datasets() -> None:
    assert one("datasets.name = 'train'") == Comparison("dataset", "name", "=", "train")
    assert one("dataset.digest LIKE 'ab%'") == Comparison("dataset", "digest", "LIKE", "ab%")


def test_quoting_keeps_the_text_between_the_quotes() -> None:
    assert one('params.a = "x y"').value == "x y"
    assert one("params.a = ''").value == ""
    # As in MLflow, a value is the raw text between its quotes: no unescaping.
    assert one("params.a = 'it''s'").value == "it''s"
    assert one("params.a = 'a\\'b'").value == "a\\'b"


def test_conjunctions() -> None:
    clauses = parse_filter(
        "metrics.acc > 1 AND params.lr = '0.1' and tags.x IS NULL And run_id IN ('r')", RUN_SPEC
    )
    assert [c.entity for c in clauses] == ["metric", "param", "tag", "attribute"]
    # MLflow tolerates stray and missing ANDs; so do we.
    assert len(parse_filter("AND metrics.acc > 1 AND AND metrics.b < 2 AND", RUN_SPEC)) == 2
    assert len(parse_filter("metrics.acc > 1 metrics.b < 2", RUN_SPEC)) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.a > 1 OR metrics.b > 1", "Invalid clause(s) in filter string: 'OR'"),
        (
            "metrics.a > 1 or metrics.b > 1 OR metrics.c > 1",
            "Invalid clause(s) in filter string: 'or', 'OR'",
        ),
        ("(metrics.a > 1)", "Invalid clause(s) in filter string: '(metrics.a > 1)'"),
        ("metrics.a > 1 AND NOT metrics.b > 1", "Invalid clause(s) in filter string: 'NOT'"),
        ("metrics.a >", "Invalid clause(s) in filter string: 'metrics.a', '>'"),
        ("metrics.a > +1", "Invalid clause(s) in filter string: 'metrics.a', '>', '+', '1'"),
        ("params.a = 'x", "Invalid clause(s) in filter string: 'params.a', '=', ''', 'x'"),
        ("params.a IS 'x'", "Invalid clause(s) in filter string: 'params.a', 'IS', ''x''"),
        ("params.a = 'x';", "Invalid clause(s) in filter string: ';'"),
        (
            "params.a = 'x'; params.b = 'y'",
            "Search filter contained multiple expression \"params.a = 'x'; params.b = 'y'\". "
            "Provide AND-ed expression list.",
        ),
        ("  ", "Invalid filter '  '. Could not be parsed."),
        (
            "foo.a = 'x'",
            "Invalid entity type 'foo'. Valid values are "
            "['metric', 'parameter', 'tag', 'attribute', 'dataset']",
        ),
        (
            "lifecycle_stage = 'active'",
            "Invalid attribute key 'lifecycle_stage' specified. Valid keys are "
            "'{'Created', 'Run Name', 'Run name', 'artifact_uri', 'created', 'end_time', "
            "'run name', 'run_id', 'run_name', 'start_time', 'status', 'user_id'}'",
        ),
        (
            "experiment_id = '1'",
            "Invalid attribute key 'experiment_id' specified. Valid keys are "
            "'{'Created', 'Run Name', 'Run name', 'artifact_uri', 'created', 'end_time', "
            "'run name', 'run_id', 'run_name', 'start_time', 'status', 'user_id'}'",
        ),
        (
            "datasets.foo = 'x'",
            "Invalid dataset key 'foo' specified. Valid keys are '{'context', 'digest', 'name'}'",
        ),
        ("metrics.a = 'x'", "Expected numeric value type for metric. Found 'x'"),
        ("metrics.a = x", "Expected numeric value type for metric. Found x"),
        ("metrics.a IN ('1')", "Expected numeric value type for metric. Found ('1')"),
        (
            "params.a = RUNNING",
            "Parameter value is either not quoted or unidentified quote types used for string "
            "value RUNNING. Use either single or double quotes.",
        ),
        (
            "status = RUNNING",
            "Parameter value is either not quoted or unidentified quote types used for string "
            "value RUNNING. Use either single or double quotes.",
        ),
        (
            "params.a = `x`",
            "Parameter value is either not quoted or unidentified quote types used for string "
            "value `x`. Use either single or double quotes.",
        ),
        (
            "params.a = 1",
            "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1",
        ),
        (
            "tags.a = NULL",
            "Expected a quoted string value for tag (e.g. 'my-value'). Got value NULL",
        ),
        ("status = 1", "Expected a quoted string value for attributes. Got value 1"),
        ("datasets.name = 1", "Expected a quoted string value for dataset attributes. Got value 1"),
        (
            "start_time > 'x'",
            "Expected numeric value type for numeric attribute: start_time. Found 'x'",
        ),
        ("created > x", "Expected numeric value type for numeric attribute: created. Found x"),
        (
            "status IN ('a')",
            "Only ['run_id'] attributes support comparison with a list of quoted string values.",
        ),
        (
            "run_id IN ()",
            "While parsing a list in the query, expected a non-empty list of string values, "
            "but got empty list",
        ),
        (
            "run_id IN ('a', 1)",
            "While parsing a list in the query, expected string value, punctuation, or "
            "whitespace, but got different type in list: ('a', 1)",
        ),
        (
            "run_id IN ('a',,'b')",
            "While parsing a list in the query, expected a non-empty list of string values, "
            "but got ill-formed list.",
        ),
        (
            "run_id IN (a)",
            "While parsing a list in the query, expected a non-empty list of string values, "
            "but got ill-formed list.",
        ),
        (
            "metrics.a IS NULL",
            "IS NULL / IS NOT NULL is only supported for tags and params, not for 'metric' 'a'",
        ),
        (
            "status IS NOT NULL",
            "IS NULL / IS NOT NULL is only supported for tags and params, "
            "not for 'attribute' 'status'",
        ),
        # Comparator refusals, each with MLflow's own punctuation.
        ("metrics.a <> 1", "Invalid comparator '<>' not one of '{'!=', '<', '<=', '=', '>', '>='}"),
        ("metrics.a == 1", "Invalid comparator '==' not one of '{'!=', '<', '<=', '=', '>', '>='}"),
        (
            "params.a > '1'",
            "Invalid comparator '>' not one of "
            "'{'!=', '=', 'ILIKE', 'IS NOT NULL', 'IS NULL', 'LIKE'}'",
        ),
        (
            "params.a NOT LIKE '1'",
            "Invalid comparator 'NOT LIKE' not one of "
            "'{'!=', '=', 'ILIKE', 'IS NOT NULL', 'IS NULL', 'LIKE'}'",
        ),
        (
            "tags.a rlike '1'",
            "Invalid comparator 'RLIKE' not one of "
            "'{'!=', '=', 'ILIKE', 'IS NOT NULL', 'IS NULL', 'LIKE'}",
        ),
        (
            "status < 'A'",
            "Invalid comparator '<' not one of '{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}'",
        ),
        (
            "end_time LIKE 5",
            "Invalid comparator 'LIKE' not one of '{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}",
        ),
        (
            "datasets.name > 'a'",
            "Invalid comparator '>' not one of '{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}",
        ),
    ],
)
def test_run_filter_refusals(text: str, message: str) -> None:
    assert refused(text) == message


def test_every_clause_is_read_before_any_comparator_is_checked() -> None:
    # MLflow parses the whole filter first; its store checks comparators afterwards.
    assert refused("params.a > '1' AND metrics.b = 'x'") == (
        "Expected numeric value type for metric. Found 'x'"
    )


@pytest.mark.parametrize(
    ("text", "clause"),
    [
        ("name = 'a'", Comparison("attribute", "name", "=", "a")),
        ("attribute.name LIKE 'a%'", Comparison("attribute", "name", "LIKE", "a%")),
        ("name ilike 'a%'", Comparison("attribute", "name", "ILIKE", "a%")),
        ("experiment_id IN ('1', '2')", Comparison("attribute", "experiment_id", "IN", ("1", "2"))),
        ("experiment_id != '3'", Comparison("attribute", "experiment_id", "!=", "3")),
        ("creation_time >= 5", Comparison("attribute", "creation_time", ">=", 5)),
        ("last_update_time < 5", Comparison("attribute", "last_update_time", "<", 5)),
        ("tags.t IS NULL", Comparison("tag", "t", "IS NULL", None)),
        ("tag.`a b` != 'x'", Comparison("tag", "a b", "!=", "x")),
    ],
)
def test_experiment_filters(text: str, clause: Comparison) -> None:
    assert parse_filter(text, EXPERIMENT_SPEC) == (clause,)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "metrics.a > 1",
            "Invalid entity type 'metrics'. Valid entity types are ('attribute', 'tag', 'tags')",
        ),
        (
            "attr.name = 'a'",
            "Invalid entity type 'attr'. Valid entity types are ('attribute', 'tag', 'tags')",
        ),
        ("name = 'a' OR name = 'b'", "Invalid clause(s) in filter string: OR"),
        (
            "foo = 'a'",
            "Invalid attribute key 'foo' specified. Valid keys are "
            "'{'creation_time', 'experiment_id', 'last_update_time', 'name'}'",
        ),
        (
            "name IN ('a')",
            "Only ['experiment_id'] attributes support comparison with a list of quoted string "
            "values.",
        ),
        (
            "name IS NULL",
            "IS NULL / IS NOT NULL is only supported for tags, not for attribute 'name'",
        ),
        ("experiment_id > '1'", "Invalid comparator for experiment_id: >"),
        ("tags.a > 'x'", "Invalid comparator for tag: >"),
        (
            "name < 'a'",
            "Invalid comparator '<' not one of '{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}'",
        ),
        (
            "creation_time LIKE 5",
            "Invalid comparator 'LIKE' not one of '{'!=', '=', 'ILIKE', 'IN', 'LIKE', 'NOT IN'}",
        ),
        (
            "tags.a IN ('x')",
            "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('x')",
        ),
        ("experiment_id = 1", "Expected a quoted string value for attributes. Got value 1"),
    ],
)
def test_experiment_filter_refusals(text: str, message: str) -> None:
    assert refused(text, EXPERIMENT_SPEC) == message


def test_where_we_are_more_lenient_than_mlflow() -> None:
    # MLflow's experiment store compares comparators case-sensitively ('like' is refused) and
    # sqlparse cannot read a keyword as a key part; both are accepted here.
    assert parse_filter("name like 'a%'", EXPERIMENT_SPEC)[0].op == "LIKE"
    assert parse_filter("experiment_id in ('1')", EXPERIMENT_SPEC)[0].op == "IN"
    assert one("tags.in = 'x'") == Comparison("tag", "in", "=", "x")


@pytest.mark.parametrize(
    ("clause", "key"),
    [
        ("metrics.acc", OrderKey("metric", "acc", True)),
        ("metrics.acc DESC", OrderKey("metric", "acc", False)),
        ("metrics.acc asc", OrderKey("metric", "acc", True)),
        ("metrics.`my metric` desc", OrderKey("metric", "my metric", False)),
        ('params."a b"', OrderKey("param", "a b", True)),
        ("tags.`mlflow.user`  DESC", OrderKey("tag", "mlflow.user", False)),
        ("attributes.start_time", OrderKey("attribute", "start_time", True)),
        ("created DESC", OrderKey("attribute", "start_time", False)),
        ("run_name", OrderKey("attribute", "run_name", True)),
        ("run.end_time", OrderKey("attribute", "end_time", True)),
    ],
)
def test_order_by(clause: str, key: OrderKey) -> None:
    assert parse_order_by([clause], RUN_SPEC) == (key,)


@pytest.mark.parametrize(
    ("clauses", "message"),
    [
        (
            ["metrics.acc SIDEWAYS"],
            "Invalid ordering key in order_by clause 'metrics.acc SIDEWAYS'.",
        ),
        (["run name"], "Invalid ordering key in order_by clause 'run name'."),
        (
            ["metrics.acc DESC ASC"],
            "Invalid order_by clause 'metrics.acc DESC ASC'. Could not be parsed.",
        ),
        (["metrics.acc "], "Invalid order_by clause 'metrics.acc '. Could not be parsed."),
        ([""], "Invalid order_by clause ''. Could not be parsed."),
        (
            ["metrics.a, metrics.b"],
            "Invalid order_by clause 'metrics.a, metrics.b'. Could not be parsed.",
        ),
        (
            ["foo.bar"],
            "Invalid entity type 'foo'. Valid values are "
            "['metric', 'parameter', 'tag', 'attribute', 'dataset']",
        ),
        (
            ["experiment_id"],
            "Invalid attribute key 'experiment_id' specified. Valid keys are "
            "'{'Created', 'artifact_uri', 'created', 'end_time', 'run_id', 'run_name', "
            "'start_time', 'status', 'user_id'}'",
        ),
        (["datasets.name"], "Invalid identifier type 'dataset'"),
        (
            ["metrics.acc", "metrics.acc DESC"],
            "`order_by` contains duplicate fields: ['metrics.acc', 'metrics.acc DESC']",
        ),
        (
            ["created", "start_time DESC"],
            "`order_by` contains duplicate fields: ['created', 'start_time DESC']",
        ),
    ],
)
def test_order_by_refusals(clauses: list[str], message: str) -> None:
    with pytest.raises(SearchError) as caught:
        parse_order_by(clauses, RUN_SPEC)
    assert caught.value.message == message


def test_experiment_order_by() -> None:
    assert parse_order_by(["name DESC", "attribute.experiment_id"], EXPERIMENT_SPEC) == (
        OrderKey("attribute", "name", False),
        OrderKey("attribute", "experiment_id", True),
    )
    # MLflow accepts a repeated field for experiments; the repeat can never reorder anything.
    assert parse_order_by(["name", "name DESC"], EXPERIMENT_SPEC) == (
        OrderKey("attribute", "name", True),
    )
    with pytest.raises(SearchError, match=r"^Invalid order_by entity: tag$"):
        parse_order_by(["tags.x"], EXPERIMENT_SPEC)
