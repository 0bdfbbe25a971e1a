"""Judge a run's final function on the task's hidden cases: inputs neither the judge nor the prompt saw.

A benchmark run lays out only ``program.py``, the judge and its helpers (``Task.lay_out``); the task's
``hidden.py`` stays in the task folder. After the run, the function the run ends with (autotrace: its
best values, the patch it writes; trace-opt: its parameters after the last step) is put in place of the
program's own and run on every hidden input through the program's ``run_case``, and the task's judge
scores the results as it scores the visible ones. A fix that special-cases the visible inputs scores 1
on them and fails here.

    python -m benchmarks.hidden_cases TASK RUN_DIR     # prints {"passed", "total", "score", "failing"}

The candidate runs in this child process (the harness gives it a timeout), never in the harness's own.
"""

from __future__ import annotations

import ast
import json
import runpy
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .tasks import Task, get


def final_source(values: Mapping[str, Any], function: str) -> str | None:
    """The source of ``function`` among a run's final values (code values are sources), None when the
    run ended with the program's own."""
    for value in values.values():
        if isinstance(value, str) and f"def {function}(" in value:
            lines = textwrap.dedent(value).splitlines(keepends=True)
            return "".join(line for line in lines if not line.startswith("@"))  # trace-opt's @bundle line
    return None


def function_name(program: Path) -> str:
    """The name of the program's marked function (the line with ``# autotrace: param``)."""
    for line in program.read_text().splitlines():
        if line.startswith("def ") and "# autotrace: param" in line:
            return line[4:].split("(", 1)[0]
    raise ValueError(f"{program}: no function marked '# autotrace: param'")


def original_source(program: Path, function: str) -> str:
    """The program's own source of ``function``."""
    text = program.read_text()
    node = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == function)
    return ast.get_source_segment(text, node) or ""


def _same_code(a: str, b: str) -> bool:
    """Equal up to layout and comments (their ASTs are equal); a value that does not parse is not equal."""
    try:
        return ast.dump(ast.parse(textwrap.dedent(a))) == ast.dump(ast.parse(textwrap.dedent(b)))
    except SyntaxError:
        return False


def judge_hidden(task: Task, run_dir: Path, values: Mapping[str, Any]) -> dict[str, Any]:
    """Run the final function on the hidden cases (in this process: call it in a child); the judge's
    score on them, and the failing cases as the judge words them."""
    if task.hidden is None:
        raise ValueError(f"task {task.name} has no hidden cases")
    cases = runpy.run_path(str(task.hidden))["CASES"]
    program = task.folder / "program.py"  # the plain form: trace-opt's run folder holds its own
    sys.path.insert(0, str(run_dir))  # the judge's helpers, as the run had them
    run_case = runpy.run_path(str(program), run_name="benchmark_hidden_cases")["run_case"]
    name = function_name(program)
    source = final_source(values, name)
    if source is not None and _same_code(source, original_source(program, name)):
        source = None  # the run ended with the program's own function (its best values hold it as text)
    if source is not None:
        ast.parse(source)  # a final value that does not parse cannot be the run's answer
        # into the globals run_case reads (run_path returns a copy of them)
        exec(compile(source, f"<final {name}>", "exec"), run_case.__globals__)  # noqa: S102 - the run's candidate
    output = [(case, run_case(case)) for case in cases]
    score, message = runpy.run_path(str(run_dir / "judge.py"))["feedback"](output)
    passed = round(score * len(cases))
    return {"passed": passed, "total": len(cases), "score": score, "final": "changed" if source else "original",
            "failing": "" if passed == len(cases) else message}


def check(task: Task, run_dir: Path, timeout: float = 60.0) -> dict[str, Any] | None:
    """:func:`judge_hidden` in a child process for the run in ``run_dir`` (its ``result.json``); None when
    the task has no hidden cases, ``{"error": ...}`` when the check could not run."""
    if task.hidden is None:
        return None
    command = [sys.executable, "-m", "benchmarks.hidden_cases", task.name, str(run_dir)]
    try:
        proc = subprocess.run(command, cwd=Path(__file__).resolve().parent.parent, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"the final function ran over {timeout:.0f} s on the hidden cases", "score": 0.0}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"hidden-case check failed: {tail}", "score": 0.0}
    return json.loads(proc.stdout)


def check_function(task: Task, source: str, folder: Path) -> dict[str, Any]:
    """:func:`check` for one function's ``source``, as if a run had ended with it: the task is laid
    out in ``folder`` (created) with a ``result.json`` holding it; ``{}`` for a task without hidden cases."""
    task.lay_out("autotrace", folder)
    (folder / "result.json").write_text(json.dumps({"final_values": {"answer": source}}))
    return check(task, folder) or {}


def main(argv: list[str]) -> int:
    task, run_dir = get(argv[0]), Path(argv[1]).resolve()
    result = json.loads((run_dir / "result.json").read_text())
    print(json.dumps(judge_hidden(task, run_dir, result.get("final_values") or {})))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
