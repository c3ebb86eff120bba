"""Promotion gates, pure: conditions parsed into a small whitelisted tree, evaluated against the
candidate version's evidence and that of the version it would replace.

No ``eval``: the text goes through ``ast.parse(mode="eval")`` and every node is translated into
one of the few node types below or refused with a message; evaluation walks that tree over plain
mappings of metrics, params and tags, so no Python object's attributes are ever touched.

The language (one condition per ``--require``):

* ``metrics.<key>``, ``params.<key>``, ``tags.<key>``: the candidate's latest metric (a number),
  param or version tag (strings); a key with characters Python names cannot hold is written
  ``metrics['val/loss']``; dots belong to the key (``metrics.eval.auc`` is metric ``eval.auc``).
* ``current.<key>`` (a metric), ``current.metrics.<key>``, ``current.params.<key>``,
  ``current.tags.<key>``, ``current.signature``: the same of the version being replaced;
  ``candidate.<...>`` says the candidate's explicitly.
* ``signature``: the candidate's MLmodel has a signature. ``tag:<key>``: the candidate has the tag.
* numbers, 'strings', True/False; ``+ - * /``; ``== != < <= > >=`` (chains too); ``and or not``.

A condition passes or fails with a detail saying why. A missing metric, param or tag fails it.
One that refers to ``current.`` passes with "no current version" when there is none (the
candidate's own references must still resolve).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from schemas import PromotionCondition

MAX_CONDITION_LENGTH = 1000

Who = Literal["candidate", "current"]
Kind = Literal["metrics", "params", "tags", "signature"]
Value: TypeAlias = float | str | bool

_KINDS: tuple[Kind, ...] = ("metrics", "params", "tags")
_TAG_PRESENCE = re.compile(r"^\s*tag:\s*(?P<key>[^\s]+)\s*$")


class ConditionError(ValueError):
    """A condition that is not in the language: refused before anything is evaluated."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(f"invalid condition {text!r}: {problem}")
        self.text = text
        self.problem = problem


@dataclass(frozen=True)
class Evidence:
    """What is known about one model version when the gate is evaluated."""

    version: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    signature: bool | None = None
    """Whether its MLmodel declares a signature; None when the MLmodel could not be read."""
    run_id: str | None = None


# ---------------------------------------------------------------------------------------------
# The tree


@dataclass(frozen=True)
class Const:
    value: Value


@dataclass(frozen=True)
class Ref:
    who: Who
    kind: Kind
    key: str | None
    text: str


@dataclass(frozen=True)
class TagPresent:
    key: str


@dataclass(frozen=True)
class Unary:
    op: Literal["-", "+", "not"]
    operand: Node


@dataclass(frozen=True)
class Arith:
    op: Literal["+", "-", "*", "/"]
    left: Node
    right: Node


@dataclass(frozen=True)
class Logic:
    op: Literal["and", "or"]
    values: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    left: Node
    ops: tuple[str, ...]
    rights: tuple[Node, ...]


Node: TypeAlias = Const | Ref | TagPresent | Unary | Arith | Logic | Compare


@dataclass(frozen=True)
class Condition:
    """A parsed condition: its text and tree, and the evidence it refers to in reading order."""

    text: str
    root: Node
    refs: tuple[Ref, ...]

    @property
    def uses_current(self) -> bool:
        return any(ref.who == "current" for ref in self.refs)


# ---------------------------------------------------------------------------------------------
# Parsing


_ARITH: dict[type[ast.operator], Literal["+", "-", "*", "/"]] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
}
_COMPARE: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_REFUSED: dict[type[ast.AST], str] = {
    ast.Call: "function calls are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.NamedExpr: "assignment expressions are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Starred: "starred expressions are not allowed",
}
_NAMES_HELP = (
    "use metrics.<key>, params.<key>, tags.<key>, signature, current.<key> "
    "(or current.metrics/params/tags.<key>, current.signature)"
)


def parse_condition(text: str) -> Condition:
    """The condition ``text`` as a tree, or ``ConditionError`` saying what is not allowed."""
    if len(text) > MAX_CONDITION_LENGTH:
        raise ConditionError(text[:40] + "...", f"longer than {MAX_CONDITION_LENGTH} characters")
    if not text.strip():
        raise ConditionError(text, "empty condition")
    presence = _TAG_PRESENCE.match(text)
    if presence:
        key = presence["key"]
        return Condition(text, TagPresent(key), (Ref("candidate", "tags", key, f"tag:{key}"),))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        where = f" at column {err.offset}" if err.offset else ""
        raise ConditionError(text, f"{err.msg}{where}") from None
    root = _Translator(text).node(tree.body)
    _require_truth_value(text, root)
    return Condition(text, root, tuple(_refs(root)))


def _require_truth_value(text: str, node: Node) -> None:
    """A condition must say yes or no: a comparison, `signature`, `tag:<key>`, or those
    combined with and/or/not; `metrics.auc` alone is refused rather than taken for truthiness."""
    if isinstance(node, Compare | TagPresent):
        return
    if isinstance(node, Ref) and node.kind == "signature":
        return
    if isinstance(node, Const) and isinstance(node.value, bool):
        return
    if isinstance(node, Unary) and node.op == "not":
        _require_truth_value(text, node.operand)
        return
    if isinstance(node, Logic):
        for value in node.values:
            _require_truth_value(text, value)
        return
    raise ConditionError(
        text,
        "a condition must be a comparison (e.g. metrics.loss < 0.3), `signature` or "
        "`tag:<key>`, possibly combined with and/or/not",
    )


class _Translator:
    def __init__(self, text: str) -> None:
        self.text = text

    def refuse(self, problem: str) -> ConditionError:
        return ConditionError(self.text, problem)

    def node(self, node: ast.expr) -> Node:
        refused = _REFUSED.get(type(node))
        if refused:
            raise self.refuse(refused)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
            return self.reference(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return Unary("-", self.node(node.operand))
            if isinstance(node.op, ast.UAdd):
                return Unary("+", self.node(node.operand))
            if isinstance(node.op, ast.Not):
                return Unary("not", self.node(node.operand))
            raise self.refuse("operator ~ is not allowed")
        if isinstance(node, ast.BinOp):
            op = _ARITH.get(type(node.op))
            if op is None:
                raise self.refuse(f"operator {type(node.op).__name__} is not allowed (+ - * / are)")
            return Arith(op, self.node(node.left), self.node(node.right))
        if isinstance(node, ast.BoolOp):
            logic: Literal["and", "or"] = "and" if isinstance(node.op, ast.And) else "or"
            return Logic(logic, tuple(self.node(v) for v in node.values))
        if isinstance(node, ast.Compare):
            ops = []
            for cmp in node.ops:
                symbol = _COMPARE.get(type(cmp))
                if symbol is None:
                    raise self.refuse(
                        f"comparison {type(cmp).__name__} is not allowed (== != < <= > >= are)"
                    )
                ops.append(symbol)
            return Compare(
                self.node(node.left), tuple(ops), tuple(self.node(c) for c in node.comparators)
            )
        raise self.refuse(f"{type(node).__name__} is not allowed")

    def constant(self, node: ast.Constant) -> Const:
        value = node.value
        if isinstance(value, bool | str):
            return Const(value)
        if isinstance(value, int | float):
            return Const(float(value))
        raise self.refuse(f"constant {value!r} is not allowed (numbers, strings, True, False)")

    def segments(self, node: ast.expr) -> list[str]:
        """`current.metrics['a/b'].c` -> ["current", "metrics", "a/b", "c"]."""
        if isinstance(node, ast.Name):
            return [node.id]
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("__"):
                raise self.refuse(f"attribute {node.attr!r} is not allowed")
            return [*self.segments(node.value), node.attr]
        if isinstance(node, ast.Subscript):
            key = node.slice
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise self.refuse("only a quoted key may be subscripted, e.g. metrics['val/loss']")
            return [*self.segments(node.value), key.value]
        refused = _REFUSED.get(type(node))
        raise self.refuse(refused or f"{_NAMES_HELP}; {type(node).__name__} cannot be one")

    def reference(self, node: ast.Name | ast.Attribute | ast.Subscript) -> Ref:
        text = ast.unparse(node)
        parts = self.segments(node)
        who: Who = "candidate"
        if parts[0] in ("current", "candidate"):
            who = "current" if parts[0] == "current" else "candidate"
            parts = parts[1:]
            if not parts:
                raise self.refuse(f"{who} needs a metric name, e.g. {who}.auc_roc")
            if parts == ["signature"]:
                return Ref(who, "signature", None, text)
            if parts[0] not in _KINDS:
                return Ref(who, "metrics", ".".join(parts), text)
        head, rest = parts[0], parts[1:]
        if head == "signature":
            if rest:
                raise self.refuse("signature takes no key")
            return Ref(who, "signature", None, text)
        if head in _KINDS:
            if not rest:
                raise self.refuse(f"{head} needs a key, e.g. {head}.auc_roc")
            kind: Kind = (
                "metrics" if head == "metrics" else "params" if head == "params" else "tags"
            )
            return Ref(who, kind, ".".join(rest), text)
        raise self.refuse(f"unknown name {head!r}: {_NAMES_HELP}")


def _refs(node: Node) -> Iterator[Ref]:
    if isinstance(node, Ref):
        yield node
    elif isinstance(node, TagPresent):
        yield Ref("candidate", "tags", node.key, f"tag:{node.key}")
    elif isinstance(node, Unary):
        yield from _refs(node.operand)
    elif isinstance(node, Arith):
        yield from _refs(node.left)
        yield from _refs(node.right)
    elif isinstance(node, Logic):
        for value in node.values:
            yield from _refs(value)
    elif isinstance(node, Compare):
        yield from _refs(node.left)
        for right in node.rights:
            yield from _refs(right)


# ---------------------------------------------------------------------------------------------
# Evaluation


class _Failed(Exception):
    """The condition cannot hold: a type mismatch, a division by zero."""


_KIND_NAMES = {"metrics": "metric", "params": "param", "tags": "tag"}


def _lookup(ref: Ref, evidence: Evidence) -> Value | None:
    if ref.kind == "signature":
        return evidence.signature
    assert ref.key is not None
    found: Mapping[str, float] | Mapping[str, str] = getattr(evidence, ref.kind)
    return found.get(ref.key)


def _missing(ref: Ref, evidence: Evidence, who: str) -> str:
    where = f"the {who} (version {evidence.version}"
    where += f", run {evidence.run_id})" if evidence.run_id else ")"
    if ref.kind == "signature":
        return f"the MLmodel of {where} could not be read, so its signature is unknown"
    if ref.kind == "metrics" and ref.key in evidence.params:
        return f"{ref.key!r} is a param of {where}, not a metric: write params.{ref.key}"
    return f"{_KIND_NAMES[ref.kind]} {ref.key!r} is not logged on {where}"


def show(value: Value | None) -> str:
    """A value as the gate's detail and table write it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def _number(value: Value, text: str) -> float:
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _Failed(f"{text} is {show(value)}, not a number")


_ORDER: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(op: str, left: Value, right: Value) -> bool:
    if op in ("==", "!="):
        same: bool
        if isinstance(left, bool) or isinstance(right, bool):
            same = left is right
        elif isinstance(left, float) or isinstance(right, float):
            try:
                same = _number(left, "") == _number(right, "")
            except _Failed:
                same = False  # 'abc' == 1.0 is simply false
        else:
            same = left == right
        return same if op == "==" else not same
    if isinstance(left, bool) or isinstance(right, bool):
        raise _Failed(f"cannot order {show(left)} {op} {show(right)}")
    if isinstance(left, str) and isinstance(right, str):
        try:  # two params that hold numbers compare as numbers
            return _ORDER[op](float(left), float(right))
        except ValueError:
            raise _Failed(f"cannot order strings: {show(left)} {op} {show(right)}") from None
    return _ORDER[op](_number(left, show(left)), _number(right, show(right)))


class _Evaluator:
    def __init__(self, candidate: Evidence, current: Evidence | None) -> None:
        self.evidence = {"candidate": candidate, "current": current}

    def value(self, node: Node) -> Value:
        if isinstance(node, Const):
            return node.value
        if isinstance(node, Ref):
            evidence = self.evidence[node.who]
            assert evidence is not None
            found = _lookup(node, evidence)
            assert found is not None  # checked before evaluating
            return found
        if isinstance(node, TagPresent):
            candidate = self.evidence["candidate"]
            assert candidate is not None
            return node.key in candidate.tags
        if isinstance(node, Unary):
            operand = self.value(node.operand)
            if node.op == "not":
                return not self.truth(operand)
            number = _number(operand, show(operand))
            return -number if node.op == "-" else number
        if isinstance(node, Arith):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(left, bool) or isinstance(right, bool):
                raise _Failed(f"cannot compute {show(left)} {node.op} {show(right)}")
            a, b = _number(left, show(left)), _number(right, show(right))
            if node.op == "/" and b == 0:
                raise _Failed(f"division by zero in {show(a)} / {show(b)}")
            if node.op == "+":
                return a + b
            if node.op == "-":
                return a - b
            return a * b if node.op == "*" else a / b
        if isinstance(node, Logic):
            if node.op == "and":
                return all(self.truth(self.value(v)) for v in node.values)
            return any(self.truth(self.value(v)) for v in node.values)
        left = self.value(node.left)
        for op, right_node in zip(node.ops, node.rights, strict=True):
            right = self.value(right_node)
            if not _compare(op, left, right):
                return False
            left = right
        return True

    @staticmethod
    def truth(value: Value) -> bool:
        if not isinstance(value, bool):
            raise _Failed(f"{show(value)} is not true or false")
        return value

    def explain(self, node: Node) -> str:
        """The condition with its evidence filled in, e.g. ``0.912 >= 0.8955``."""
        if isinstance(node, Compare):
            parts = [self.shown(node.left)]
            for op, right in zip(node.ops, node.rights, strict=True):
                parts += [op, self.shown(right)]
            return " ".join(parts)
        if isinstance(node, Logic):
            return f" {node.op} ".join(f"({self.explain(v)})" for v in node.values)
        if isinstance(node, Unary) and node.op == "not":
            return f"not ({self.explain(node.operand)})"
        if isinstance(node, TagPresent):
            candidate = self.evidence["candidate"]
            assert candidate is not None
            if node.key in candidate.tags:
                return f"tag {node.key!r} is set ({show(candidate.tags[node.key])})"
            return f"tag {node.key!r} is not set"
        if isinstance(node, Ref) and node.kind == "signature":
            has = self.value(node)
            whose = "candidate" if node.who == "candidate" else "current version"
            return f"the {whose}'s MLmodel {'has a' if has else 'has no'} signature"
        return self.shown(node)

    def shown(self, node: Node) -> str:
        try:
            return show(self.value(node))
        except _Failed:
            return "?"


def evaluate(
    condition: Condition, candidate: Evidence, current: Evidence | None
) -> PromotionCondition:
    """Whether ``condition`` holds for ``candidate`` against ``current`` (None: nothing to
    replace), with the first candidate and current values it refers to and why it passed or not."""

    def first(who: Who, evidence: Evidence | None) -> float | str | None:
        if evidence is None:
            return None
        for ref in condition.refs:
            if ref.who == who:
                found = _lookup(ref, evidence)
                if isinstance(found, bool):
                    return "present" if found else "absent"
                return found
        return None

    def result(passed: bool, detail: str) -> PromotionCondition:
        return PromotionCondition(
            expression=condition.text,
            candidate=first("candidate", candidate),
            current=first("current", current),
            passed=passed,
            detail=detail,
        )

    for ref in condition.refs:
        if ref.who == "candidate" and _lookup(ref, candidate) is None:
            if isinstance(condition.root, TagPresent):
                return result(False, f"tag {ref.key!r} is not set on the candidate")
            return result(False, _missing(ref, candidate, "candidate"))
    if condition.uses_current:
        if current is None:
            return result(True, "no current version")
        for ref in condition.refs:
            if ref.who == "current" and _lookup(ref, current) is None:
                return result(False, _missing(ref, current, "current version"))
    evaluator = _Evaluator(candidate, current)
    try:
        passed = evaluator.truth(evaluator.value(condition.root))
    except _Failed as failure:
        return result(False, str(failure))
    return result(passed, evaluator.explain(condition.root))


def evaluate_gate(
    conditions: Sequence[Condition], candidate: Evidence, current: Evidence | None
) -> tuple[bool, list[PromotionCondition]]:
    """Every condition's result, and whether all of them passed (a gate without conditions does)."""
    results = [evaluate(c, candidate, current) for c in conditions]
    return all(r.passed for r in results), results
