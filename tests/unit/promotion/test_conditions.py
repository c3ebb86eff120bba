"""The promotion gate's condition language: parsing (what is refused) and evaluation (every
operator, missing evidence, no current version)."""

from __future__ import annotations

import pytest

from services.registry.promotion import (
    ConditionError,
    Evidence,
    evaluate,
    evaluate_gate,
    parse_condition,
)

CANDIDATE = Evidence(
    version=3,
    metrics={"auc_roc": 0.912, "loss": 0.25, "val/loss": 0.3, "eval.auc": 0.8, "zero": 0.0},
    params={"C": "1.0", "solver": "lbfgs"},
    tags={"validated": "true", "owner": "risk"},
    signature=True,
    run_id="run3",
)
CURRENT = Evidence(
    version=2,
    metrics={"auc_roc": 0.9005, "loss": 0.3},
    params={"C": "0.5"},
    tags={"validated": "false"},
    signature=False,
    run_id="run2",
)


def check(text: str, current: Evidence | None = CURRENT) -> tuple[bool, str | None]:
    result = evaluate(parse_condition(text), CANDIDATE, current)
    return result.passed, result.detail


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        ("metrics.auc_roc >= current.auc_roc - 0.005", True),
        ("metrics.auc_roc >= current.auc_roc + 0.05", False),
        ("metrics.loss < 0.3", True),
        ("metrics.loss < 0.25", False),
        ("metrics.loss <= 0.25", True),
        ("metrics.loss > 0.2", True),
        ("metrics.loss >= 0.26", False),
        ("metrics.loss == 0.25", True),
        ("metrics.loss != 0.25", False),
        ("metrics.loss * 2 == 0.5", True),
        ("metrics.loss / 2 < 0.2", True),
        ("metrics.loss - current.loss < 0", True),
        ("metrics.loss + 1 > 1.2", True),
        ("-metrics.loss < 0", True),
        ("+metrics.loss > 0", True),
        ("0.1 < metrics.loss < 0.3", True),
        ("0.1 < metrics.loss < 0.2", False),
        ("(metrics.auc_roc - current.auc_roc) / current.auc_roc > 0.01", True),
        ("signature", True),
        ("not signature", False),
        ("current.signature", False),
        ("candidate.signature and not current.signature", True),
        ("tags.validated == 'true'", True),
        ("tags.validated != 'true'", False),
        ("current.tags.validated == 'false'", True),
        ("tag:validated", True),
        ("tag:missing", False),
        ("params.C == 1", True),
        ("params.C > current.params.C", True),
        ("params.solver == 'lbfgs'", True),
        ("params.solver == 1", False),
        ("metrics['val/loss'] < 0.5", True),
        ("metrics.eval.auc > 0.7", True),
        ("candidate.auc_roc > current.metrics.auc_roc", True),
        ("metrics.loss < 0.1 or signature", True),
        ("metrics.loss < 0.1 and signature", False),
        ("True", True),
    ],
)
def test_operators(text: str, passed: bool) -> None:
    assert check(text)[0] is passed


def test_the_detail_shows_the_evaluated_comparison_and_the_values() -> None:
    result = evaluate(
        parse_condition("metrics.auc_roc >= current.auc_roc - 0.005"), CANDIDATE, CURRENT
    )
    assert (result.candidate, result.current) == (0.912, 0.9005)
    assert result.detail == "0.912 >= 0.8955"
    assert result.expression == "metrics.auc_roc >= current.auc_roc - 0.005"


def test_a_missing_metric_fails_with_a_clear_detail() -> None:
    passed, detail = check("metrics.f1 > 0.5")
    assert not passed
    assert detail == "metric 'f1' is not logged on the candidate (version 3, run run3)"
    passed, detail = check("metrics.auc_roc > current.f1")
    assert (
        not passed
        and detail == "metric 'f1' is not logged on the current version (version 2, run run2)"
    )
    passed, detail = check("metrics.C > 0")
    assert not passed and "is a param" in str(detail) and "params.C" in str(detail)
    passed, detail = check("tags.nope == 'x'")
    assert (
        not passed and detail == "tag 'nope' is not logged on the candidate (version 3, run run3)"
    )


def test_without_a_current_version_conditions_on_it_pass() -> None:
    assert check("metrics.auc_roc >= current.auc_roc - 0.005", None) == (True, "no current version")
    assert check("current.signature", None) == (True, "no current version")
    # ... but the candidate's own evidence must still be there
    assert check("metrics.f1 >= current.f1", None)[0] is False
    assert check("metrics.loss < 0.3", None)[0] is True


def test_an_unreadable_mlmodel_fails_the_signature_condition() -> None:
    unknown = Evidence(version=4, signature=None)
    result = evaluate(parse_condition("signature"), unknown, None)
    assert not result.passed and "could not be read" in str(result.detail)
    no_signature = Evidence(version=4, signature=False)
    result = evaluate(parse_condition("signature"), no_signature, None)
    assert not result.passed and result.candidate == "absent"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("metrics.loss / metrics.zero > 1", "division by zero"),
        ("tags.owner > 1", "not a number"),
        ("tags.owner < 'z'", "cannot order strings"),
        ("signature > 0", "cannot order"),
        ("signature + 1 > 0", "cannot compute"),
        ("-tags.owner < 0", "not a number"),
        ("metrics.loss < 1 and (metrics.loss + 1) == 'x'", None),
    ],
)
def test_type_errors_fail_the_condition(text: str, detail: str | None) -> None:
    passed, found = check(text)
    assert not passed
    if detail:
        assert detail in str(found)


def test_a_gate_passes_only_when_every_condition_does() -> None:
    conditions = [parse_condition("signature"), parse_condition("metrics.loss < 0.1")]
    passed, results = evaluate_gate(conditions, CANDIDATE, CURRENT)
    assert not passed and [r.passed for r in results] == [True, False]
    assert evaluate_gate([], CANDIDATE, None) == (True, [])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("__import__('os').system('true')", "function calls are not allowed"),
        ("open('/etc/passwd')", "function calls are not allowed"),
        ("metrics.auc.__class__ == 1", "'__class__' is not allowed"),
        ("metrics.__dict__ == 1", "'__dict__' is not allowed"),
        ("().__class__.__bases__", "not allowed"),
        ("import os", "invalid syntax"),
        ("metrics.auc >", "invalid syntax"),
        ("x = 1", "invalid syntax"),
        ("lambda: True", "lambda is not allowed"),
        ("[m for m in metrics]", "comprehensions are not allowed"),
        ("(x := 1)", "assignment expressions are not allowed"),
        ("f'{metrics}' == 'x'", "f-strings are not allowed"),
        ("1 if signature else 0", "conditional expressions are not allowed"),
        ("os.system == 1", "unknown name 'os'"),
        ("auc_roc > 1", "unknown name 'auc_roc'"),
        ("metrics > 1", "metrics needs a key"),
        ("current > 1", "current needs a metric name"),
        ("signature.x", "signature takes no key"),
        ("metrics[0] > 1", "only a quoted key"),
        ("metrics[key] > 1", "only a quoted key"),
        ("metrics.auc ** 2 > 1", "Pow is not allowed"),
        ("metrics.auc % 2 > 1", "Mod is not allowed"),
        ("metrics.auc in [1, 2]", "In is not allowed"),
        ("metrics.auc is None", "Is is not allowed"),
        ("~metrics.auc > 1", "operator ~ is not allowed"),
        ("metrics.auc > None", "constant None is not allowed"),
        ("metrics.auc > b'x'", "constant b'x' is not allowed"),
        ("metrics.auc", "a condition must be a comparison"),
        ("metrics.auc + 1", "a condition must be a comparison"),
        ("'yes'", "a condition must be a comparison"),
        ("", "empty condition"),
        ("x" * 2000, "longer than"),
    ],
)
def test_refused_syntax(text: str, problem: str) -> None:
    with pytest.raises(ConditionError) as refused:
        parse_condition(text)
    assert problem in str(refused.value)


def test_refs_are_read_not_executed() -> None:
    """Keys are dictionary lookups: a key that looks like code is just a missing metric."""
    passed, detail = check("metrics['__class__'] > 0")
    assert not passed and "not logged" in str(detail)
