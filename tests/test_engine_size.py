"""The engine stays small enough to read whole: each module of ``autotrace/engine`` at most 400 lines,
no function or method in it over 60 lines (decorators and docstring included)."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "autotrace" / "engine"
MODULE_LINES, FUNCTION_LINES = 400, 60


def long_functions(source: str) -> list[tuple[str, int]]:
    """Each function in ``source`` longer than FUNCTION_LINES, with its length."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > FUNCTION_LINES:
                found.append((node.name, length))
    return found


def test_the_check_finds_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    assert long_functions(f"def short():\n    pass\n\n\ndef long():\n{body}\n") == [("long", FUNCTION_LINES + 1)]


def test_each_engine_module_is_at_most_400_lines_and_no_function_over_60():
    modules = sorted(ENGINE.glob("*.py"))
    assert len(modules) >= 10  # the engine's modules are there
    too_long = {p.name: n for p in modules if (n := len(p.read_text().splitlines())) > MODULE_LINES}
    assert too_long == {}
    functions = {p.name: found for p in modules if (found := long_functions(p.read_text()))}
    assert functions == {}
