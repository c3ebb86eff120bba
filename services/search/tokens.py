"""Tokens of MLflow's search language, and its quoting rules.

sqlparse, which MLflow uses, reads a filter as words, quoted strings, numbers, operators and
parenthesised groups, and joins ``a.b.c`` into one identifier; ``tokenize`` yields the same
pieces (as ``Atom``s) so that the parser can report leftovers the way MLflow does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.search.errors import SearchError

_LEXEME = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<squote>'(?:''|\\'|[^'])*')
    | (?P<dquote>"(?:""|\\"|[^"])*")
    | (?P<btick>`(?:``|[^`])*`)
    | (?P<number>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE]-?\d+)?)(?!\w)
    | (?P<op><>|!=|>=|<=|==|=|<|>)
    | (?P<word>[\w$]+)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<comma>,)
    | (?P<semi>;)
    | (?P<dot>\.)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
INTEGER = re.compile(r"-?\d+")
KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "RLIKE"})


@dataclass(frozen=True)
class Lexeme:
    kind: str
    text: str


@dataclass(frozen=True)
class Atom:
    """A lexeme, or a dotted identifier (``parts``), or a parenthesised group (``inner``)."""

    kind: str  # ws word ident dquote squote number op open close comma semi dot other paren
    text: str
    parts: tuple[str, ...] = ()
    inner: tuple[Lexeme, ...] = ()

    @property
    def keyword(self) -> str | None:
        upper = self.text.upper()
        return upper if self.kind == "word" and upper in KEYWORDS else None


def _lex(text: str) -> list[Lexeme]:
    return [Lexeme(str(m.lastgroup), m.group()) for m in _LEXEME.finditer(text)]


def tokenize(text: str) -> list[Atom]:
    """The atoms of a filter or order_by clause, whitespace included."""
    return _atoms(_lex(text))


_PART_KINDS = frozenset({"word", "btick", "dquote"})
_LATER_PART_KINDS = _PART_KINDS | {"squote", "number"}


def _atoms(lexemes: Sequence[Lexeme]) -> list[Atom]:
    """Join ``part.part...`` runs into identifiers and ``( ... )`` into groups."""
    atoms: list[Atom] = []
    i, n = 0, len(lexemes)
    while i < n:
        lx = lexemes[i]
        if lx.kind == "open":
            depth, j = 0, i
            while j < n:
                depth += {"open": 1, "close": -1}.get(lexemes[j].kind, 0)
                if depth == 0:
                    break
                j += 1
            if j < n:
                inner = tuple(lexemes[i + 1 : j])
                text = "".join(x.text for x in lexemes[i : j + 1])
                atoms.append(Atom("paren", text, inner=inner))
                i = j + 1
                continue
            atoms.append(Atom("other", lx.text))
            i += 1
            continue
        if lx.kind in _PART_KINDS:
            parts = [lx.text]
            j = i + 1
            while (
                j + 1 < n and lexemes[j].kind == "dot" and lexemes[j + 1].kind in _LATER_PART_KINDS
            ):
                parts.append(lexemes[j + 1].text)
                j += 2
            if j < n and lexemes[j].kind == "dot" and len(parts) == 1 and lx.kind == "word":
                # ``tags.`` followed by something that is no key part: keep the dot with it.
                parts.append("")
                j += 1
            if len(parts) > 1:
                atoms.append(Atom("ident", ".".join(parts), parts=tuple(parts)))
            elif lx.kind == "btick":
                atoms.append(Atom("ident", lx.text, parts=(lx.text,)))
            else:
                atoms.append(Atom(lx.kind, lx.text, parts=(lx.text,)))
            i = j
            continue
        atoms.append(Atom(lx.kind, lx.text))
        i += 1
    return atoms


# ---------------------------------------------------------------------------------------------
# Quoting rules


def _is_quoted(text: str, quote: str) -> bool:
    return len(text) >= 2 and text.startswith(quote) and text.endswith(quote)


def trim_backticks(text: str) -> str:
    return text[1:-1] if _is_quoted(text, "`") else text


def strip_quotes(text: str, *, expect_quoted: bool) -> str:
    if _is_quoted(text, "'") or _is_quoted(text, '"'):
        return text[1:-1]
    if expect_quoted:
        raise SearchError(
            "Parameter value is either not quoted or unidentified quote types used for "
            f"string value {text}. Use either single or double quotes."
        )
    return text


_LIST_LEXEME = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<string>'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")
    | (?P<number>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?!\w)
    | (?P<comma>,)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0"}


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), body, flags=re.DOTALL)


def _ill_formed_list() -> SearchError:
    return SearchError(
        "While parsing a list in the query, expected a non-empty list of string values, "
        "but got ill-formed list."
    )


def parse_list(inner: Sequence[Lexeme]) -> tuple[str, ...]:
    """``('a', "b")``: quoted strings separated by commas, Python-literal style like MLflow
    (escapes are honoured, adjacent literals concatenate, a trailing comma is allowed)."""
    body = "".join(lx.text for lx in inner)
    items: list[str | int | float] = []
    pending: str | int | float | None = None  # the item being read
    for m in _LIST_LEXEME.finditer(body):
        kind, text = m.lastgroup, m.group()
        if kind == "ws":
            continue
        if kind == "string":
            if isinstance(pending, str):
                pending += _unescape(text[1:-1])
            elif pending is None:
                pending = _unescape(text[1:-1])
            else:
                raise _ill_formed_list()
        elif kind == "number":
            if pending is not None:
                raise _ill_formed_list()
            pending = int(text) if INTEGER.fullmatch(text) else float(text)
        elif kind == "comma":
            if pending is None:
                raise _ill_formed_list()
            items.append(pending)
            pending = None
        else:
            raise _ill_formed_list()
    if pending is not None:
        items.append(pending)
    if not items:
        raise SearchError(
            "While parsing a list in the query, expected a non-empty list of string values, "
            "but got empty list"
        )
    if not all(isinstance(item, str) for item in items):
        raise SearchError(
            "While parsing a list in the query, expected string value, punctuation, or "
            f"whitespace, but got different type in list: {tuple(items)}"
        )
    return tuple(str(item) for item in items)
