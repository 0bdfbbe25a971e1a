"""When two sets of values are the same proposal: code compared by its normalised syntax tree, other
values by value (and type: ``1`` is not ``1.0``).

A model that cycles between two answers (a candidate and the original, step after step:
docs/decisions/answers-and-questions.md) writes them with different comments, blank lines or
docstrings each time; the normalised key sees through that, so the loop can say "tried already"
instead of running the same program again. One place for the rule, for every part that needs to
recognise a repeat.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from autotrace.params import ParamKind, ParamSpec

ProposalKey = tuple[tuple[str, str], ...]


def code_key(source: str) -> str:
    """The source's syntax tree without docstrings, positions or formatting (``ast.dump``); the
    stripped text itself when it does not parse."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return source.strip()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def value_key(kind: str, value: Any) -> str:
    """One parameter's value as a comparable text: code by :func:`code_key`, anything else by its
    type and ``repr``."""
    return code_key(str(value)) if kind is ParamKind.CODE else f"{type(value).__name__}:{value!r}"


def proposal_key(params: Sequence[ParamSpec], values: Mapping[str, Any]) -> ProposalKey:
    """All parameters' values as one hashable key, in a fixed order."""
    return tuple(sorted((p.name, value_key(p.kind, values[p.name])) for p in params))
