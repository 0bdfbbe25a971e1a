"""A program that cannot run: its original values fail on every example with one error that no parameter
takes part in (a missing key, an import error). Then no value the optimizer proposes can help, and every
token asked for would be wasted: the run stops before its first LLM call (:func:`cannot_run`).

"No parameter takes part" is read from the error's traceback: none of its frames is inside a marked
function, names a marked function as where it runs, shows a line that mentions a parameter's name, or
runs in a function of the project's own files whose source mentions one (the value may decide whether it
raises). ``return 10 / DIVISOR`` with ``DIVISOR`` marked is feedback (the next value may fix it), ``client
= OpenAI()`` at import raising for a missing key is not.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from pathlib import Path

from autotrace.evaluation import Evaluation
from autotrace.params import ParamKind, ParamSpec, value_to_text

_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)\n(?:    (?P<code>.*)\n)?',
                    re.MULTILINE)


def cannot_run(params: Sequence[ParamSpec], initial: Evaluation, root: Path) -> str | None:
    """Why the program cannot run whatever the values, in one line, or None when it may (``root``: the
    project's folder, whose functions' sources are read)."""
    if initial.problem:
        if "Traceback (most recent call last)" not in initial.problem or _involves(params, initial.problem, root):
            return None  # a crash (a timeout, memory) or an error a parameter takes part in
        return f"the program cannot run with its original values: {initial.problem.splitlines()[0]}"
    examples = (*initial.examples, *initial.holdout)
    if not examples or not all(e.failed for e in examples):
        return None
    errors = {_error_line(e.message) for e in examples}
    if len(errors) != 1 or "" in errors or any(_involves(params, e.message, root) for e in examples):
        return None
    return (f"the program fails on every example with its original values, in code no parameter takes part in: "
            f"{errors.pop()}")


def _error_line(trace: str) -> str:
    """The first line of the exception a traceback ends with ("" when it is not a traceback)."""
    lines = trace.splitlines()
    if not lines or not lines[0].startswith("Traceback"):
        return ""
    for line in lines[1:]:
        if not line.startswith(" "):
            return line.strip()
    return ""


def _involves(params: Sequence[ParamSpec], trace: str, root: Path) -> bool:
    """Whether a frame of ``trace`` is in, or mentions, a marked parameter."""
    names = {spec.qualname.rsplit(".", 1)[-1] for spec in params}
    if not names:
        return False
    mentioned = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b")
    for frame in _FRAME.finditer(trace):
        file, line = frame["file"], int(frame["line"])
        if frame["function"] in names or (frame["code"] and mentioned.search(frame["code"])):
            return True
        if any(_inside(spec, file, line) for spec in params):
            return True
        if frame["function"] != "<module>" and mentioned.search(_function_source(root, file, line)):
            return True
    return False


def _function_source(root: Path, file: str, line: int) -> str:
    """The source of the innermost function around ``file``:``line`` when the file is the project's ("":
    a library's, or unreadable)."""
    path = Path(file)
    if not path.is_file() or root.resolve() not in path.resolve().parents:
        return ""
    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError):
        return ""
    around = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
              and node.lineno <= line <= (node.end_lineno or node.lineno)]
    if not around:
        return ""
    inner = max(around, key=lambda node: node.lineno)
    return "\n".join(text.splitlines()[inner.lineno - 1:inner.end_lineno])


def _inside(spec: ParamSpec, file: str, line: int) -> bool:
    """Whether ``file``:``line`` is within the parameter's source (a function's body, a text's lines). The
    file is compared by name alone: a confined evaluation may run a copy of the project elsewhere, and
    taking a namesake for it only ever lets a run go on."""
    if Path(file).name != spec.path.name:
        return False
    text = spec.initial if spec.kind is ParamKind.CODE else value_to_text(spec.kind, spec.initial)
    return spec.line <= line < spec.line + max(1, len(str(text).splitlines()))
