"""The imports a suggested function needs, moved into its body: a loose end small models leave.

A small model writes ``re.sub(...)`` in a function whose module never imported ``re``, or answers
with ``import re`` above the ``def``. The first fails every case with a ``NameError``; the second is
not one function, so it was rejected unseen (how often: docs/decisions/answers-and-questions.md). Both are the right
idea with a loose end, and the fix is mechanical, so it is made here rather than spent a step on:
the answer's leading imports, and an ``import M`` for each standard-library module ``M`` the function
uses as ``M.attr`` without it being bound anywhere, become the first statements of the function's
body (after its docstring). The function stays a drop-in replacement of one ``def``, and the patch
shows the import where it is used.

A name is only imported when nothing else could have meant it: not a builtin, not bound in the
function, and not bound anywhere in the parameter's module (read from its file; a module that cannot
be read, or that has a ``*`` import, gets no guessed imports). The text is edited by lines, so the
model's formatting and comments stay as written.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from pathlib import Path

_IMPORTS = (ast.Import, ast.ImportFrom)
#: Standard-library modules whose import does something visible, or that no function means as a value.
_NEVER = frozenset({"this", "antigravity", "idlelib", "tkinter", "turtle", "turtledemo", "test", "__future__"})
_STDLIB = frozenset(name for name in sys.stdlib_module_names if not name.startswith("_")) - _NEVER


def with_imports(source: str, tree: ast.Module, module_path: Path | None) -> str:
    """``source`` with the imports its one function needs moved into or added to its body.

    ``tree`` is ``source`` parsed. Anything but leading imports and one ``def`` comes back unchanged
    (the caller rejects it), as does a one-line ``def`` whose body shares the ``def`` line.
    """
    if not tree.body:
        return source
    *rest, last = tree.body
    leading = [s for s in rest if isinstance(s, _IMPORTS)]
    if not isinstance(last, (ast.FunctionDef, ast.AsyncFunctionDef)) or len(leading) < len(rest):
        return source
    lines = source.splitlines(keepends=True)
    moved = [ast.unparse(statement) for statement in leading]
    bound = set().union(*(_bound_by(statement) for statement in leading))
    guessed = [f"import {name}" for name in sorted(_missing_modules(last, module_path) - bound)]
    if not moved and not guessed:
        return source
    docstring = last.body[0] if _is_docstring(last.body[0]) else None
    body = last.body[1:] if docstring else last.body
    anchor = body[0] if body else last.body[0]
    first = min([anchor.lineno, *(d.lineno for d in getattr(anchor, "decorator_list", []))])
    if first == last.lineno:
        return source  # ``def f(x): return re.sub(...)``: no line of its own to put an import on
    at = first - 1 if body else _last_line(anchor)  # before the first statement, or after the docstring
    floor = _last_line(docstring) if docstring else _header_end(last)
    while at > floor and lines[at - 1].lstrip().startswith("#"):
        at -= 1  # above the comments that introduce the first statement
    indent = re.match(r"[ \t]*", lines[anchor.lineno - 1]).group()  # type: ignore[union-attr]
    taken = {n for s in leading for n in range(s.lineno, _last_line(s) + 1)}  # the answer's imports leave the top
    head = [line for number, line in enumerate(lines[:at], 1) if number not in taken]
    return "".join([*head, *(f"{indent}{text}\n" for text in moved + guessed), *lines[at:]]).lstrip("\n")


def _header_end(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The last line of the ``def`` header: its parameters and return annotation may span lines."""
    parts = [n for n in ast.walk(function.args) if isinstance(n, ast.expr | ast.arg)]
    return max([function.lineno, *(n.end_lineno or 0 for n in parts + [function.returns] if n is not None)])


def _last_line(statement: ast.stmt) -> int:
    """``statement.end_lineno``, which ``ast.parse`` sets on every statement (typeshed allows None)."""
    assert statement.end_lineno is not None
    return statement.end_lineno


def _bound_by(statement: ast.Import | ast.ImportFrom) -> set[str]:
    return {(alias.asname or alias.name).partition(".")[0] for alias in statement.names}


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and isinstance(
        statement.value.value, str)


def _missing_modules(function: ast.FunctionDef | ast.AsyncFunctionDef, module_path: Path | None) -> set[str]:
    """Standard-library modules ``function`` reads as ``M.attr`` that neither it nor its module binds."""
    used = {node.value.id for node in ast.walk(function)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and isinstance(node.value.ctx, ast.Load)}
    candidates = (used & _STDLIB) - _names_bound_in(function) - set(dir(builtins))
    if not candidates:
        return set()
    module_names = _module_names(module_path)
    return set() if module_names is None else candidates - module_names


def _names_bound_in(tree: ast.AST) -> set[str]:
    """Every name ``tree`` binds anywhere: parameters, assignments, imports, defs, handlers, globals."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, _IMPORTS):
            names |= _bound_by(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names |= set(node.names)
    return names


def _module_names(path: Path | None) -> set[str] | None:
    """The names the parameter's module binds anywhere, or None when unknown (unreadable, ``*`` import)."""
    try:
        tree = ast.parse(Path(path).read_bytes()) if path is not None else None
    except (OSError, SyntaxError, ValueError):
        return None
    if tree is None or any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
                           for n in ast.walk(tree)):
        return None
    return _names_bound_in(tree)
