"""The benchmark's hidden cases: never laid out for a run, judged on the run's final function afterwards,
so a fix that special-cases the visible inputs scores 1 on them and fails the hidden ones."""

from __future__ import annotations

import ast
import json
import runpy
import sys
from pathlib import Path

import pytest

from tests.llmserver import ScriptedLLMServer

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import harness, hidden_cases, tasks  # noqa: E402

CODE = [t for t in tasks.TASKS if t.kind == "code"]


def visible_pool(task: tasks.Task) -> tuple:
    return runpy.run_path(str(task.folder / "program.py"), run_name="pool")["POOL"]


def hidden(task: tasks.Task) -> tuple:
    return runpy.run_path(str(task.hidden))["CASES"]


def lookup_table(task: tasks.Task) -> str:
    """A "fix" that only knows the visible inputs: their right answers by lookup, an error for the rest."""
    reference = runpy.run_path(str(task.folder / "judge.py"))
    name = hidden_cases.function_name(task.folder / "program.py")
    args = next(node.args.args for node in ast.parse((task.folder / "program.py").read_text()).body
                if isinstance(node, ast.FunctionDef) and node.name == name)
    names = ", ".join(arg.arg for arg in args)
    table = {repr(case): reference["reference"](case) for case in visible_pool(task)}
    return (f"def {name}({names}):\n"
            f"    table = {table!r}\n"
            f"    return table[repr({names if len(args) == 1 else f'({names})'})]\n")


@pytest.fixture(autouse=True)
def _judge_path(monkeypatch):
    monkeypatch.syspath_prepend(str(tasks.SHARED))  # the judges import checks.py, laid out beside them in a run
    monkeypatch.delitem(sys.modules, "checks", raising=False)


@pytest.mark.parametrize("task", CODE, ids=lambda t: t.name)
def test_hidden_cases_are_fresh_and_never_laid_out(task, tmp_path):
    assert task.hidden is not None, "every code task has hidden cases"
    cases = hidden(task)
    assert len(cases) >= 8 and not set(map(repr, cases)) & set(map(repr, visible_pool(task)))
    for side in ("autotrace", "trace"):
        task.lay_out(side, tmp_path / side)
        assert not any(path.name == "hidden.py" for path in (tmp_path / side).rglob("*"))


@pytest.mark.parametrize("task", CODE, ids=lambda t: t.name)
def test_a_fix_for_the_visible_inputs_only_fails_the_hidden_ones(task, tmp_path):
    task.lay_out("autotrace", tmp_path)
    overfit = lookup_table(task)
    reference = runpy.run_path(str(task.folder / "judge.py"))
    visible = [(case, reference["reference"](case)) for case in visible_pool(task)]
    assert reference["feedback"](visible)[0] == 1.0  # the lookup is right on every visible input ...
    result = hidden_cases.judge_hidden(task, tmp_path, {"program.f": overfit})
    assert result["final"] == "changed" and result["passed"] == 0 and "failing" in result  # ... and none hidden
    original = hidden_cases.judge_hidden(task, tmp_path, {})
    assert original["final"] == "original" and 0 <= original["passed"] < original["total"]
    name = hidden_cases.function_name(task.folder / "program.py")
    own = hidden_cases.original_source(task.folder / "program.py", name)  # best values that are the original
    assert hidden_cases.judge_hidden(task, tmp_path, {"program.f": own}) == original


def test_the_reference_passes_every_hidden_case(tmp_path):
    fixed = {"median": "def median(xs):\n    s = sorted(xs)\n    n = len(s)\n"
                       "    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2\n",
             "run_length": "def run_length(text):\n    from itertools import groupby\n"
                           "    return ''.join(f'{c}{len(list(g))}' for c, g in groupby(text))\n"}
    for name, source in fixed.items():
        task = tasks.get(name)
        task.lay_out("autotrace", tmp_path / name)
        result = hidden_cases.judge_hidden(task, tmp_path / name, {"x": source})
        assert result["passed"] == result["total"] == len(hidden(task)) and result["failing"] == ""


def test_a_benchmark_run_reports_visible_and_hidden_apart_and_no_prompt_holds_a_hidden_input(tmp_path):
    """Through the real harness, autotrace's side and a scripted model answering the lookup table: solved
    on the visible cases, 0 hidden cases passed, and no prompt sent holds one of the hidden inputs."""
    task = tasks.get("title_case")
    overfit = lookup_table(task)
    with ScriptedLLMServer() as server:
        server.script(f"The titles are wrong; look them up.\n```python\n{overfit}```\n")
        result = harness.run_task(task, "autotrace", 0, 2, {"base_url": server.base_url, "model": "m"}, tmp_path,
                                  None, 300.0, 512)
        sent = json.dumps([request.json for request in server.chat_requests])
    assert result.get("error") is None and result["solved"] and result["best_score"] == 1.0
    assert result["hidden"]["passed"] == 0 and result["hidden"]["total"] == len(hidden(task))
    assert all(title not in sent for title in hidden(task))
    assert any(title in sent for title in visible_pool(task))  # the visible ones are in the feedback shown


def test_the_report_gives_visible_and_hidden_apart_and_counts_the_overfitted_runs():
    from benchmarks import report

    def run(seed, solved, passed):
        return {"task": "title_case", "seed": seed, "side": "autotrace", "solved": solved, "solved_step": 1 if solved else None,
                "best_score": 1.0 if solved else 0.5, "steps": [], "hidden": {"passed": passed, "total": 9}}

    lines = "\n".join(report._hidden([run(0, True, 0), run(1, True, 9), run(2, False, 3)]))
    # 2 of 3 solved on the visible cases, 12 of 27 hidden cases passed, 1 run passing all, 1 solved-but-overfitted
    assert "| title_case | autotrace | 2/3 | 0.833 | 12/27 (44%) | 1/3 | 1 |" in lines
    assert report._hidden_cell(run(0, True, 0)) == "0/9" and report._hidden_cell({"task": "x"}) == "—"
