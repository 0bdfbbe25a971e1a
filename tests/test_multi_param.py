"""The fresh multi-parameter tasks of issue #33 are solvable and not solved: the correct values in
``benchmarks.multi_param.SOLUTIONS`` pass every visible example and hidden case, the original values
do not, and each parameter that must change is needed (the solution without it fails). Fast: no model,
one child Python per check (the program is scored as the benchmark scores a run's result)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import multi_param  # noqa: E402


@pytest.mark.parametrize("task", multi_param.TASKS)
def test_solution_passes_every_visible_and_hidden_case(task: str) -> None:
    scored = multi_param.score_folder(multi_param.TASKS_DIR / task, task, multi_param.SOLUTIONS[task])
    assert "error" not in scored, scored
    assert scored["visible"] and all(score == 1 for score in scored["visible"]), scored
    assert scored["hidden_total"] >= 5 and scored["hidden_passed"] == scored["hidden_total"], scored


@pytest.mark.parametrize("task", multi_param.TASKS)
def test_original_values_fail_visible_and_hidden(task: str) -> None:
    scored = multi_param.score_folder(multi_param.TASKS_DIR / task, task)
    assert "error" not in scored, scored
    assert not all(score == 1 for score in scored["visible"]), scored
    assert scored["hidden_passed"] < scored["hidden_total"], scored


@pytest.mark.parametrize(("task", "left_out"), [(task, name) for task in multi_param.TASKS
                                                 for name in multi_param.MUST_CHANGE[task]])
def test_every_parameter_that_must_change_is_needed(task: str, left_out: str) -> None:
    partial = {name: value for name, value in multi_param.SOLUTIONS[task].items() if name != left_out}
    scored = multi_param.score_folder(multi_param.TASKS_DIR / task, task, partial)
    assert not all(score == 1 for score in scored["visible"]), (left_out, scored)


def test_marked_parameters_and_no_hidden_cases_in_the_copy(tmp_path: Path) -> None:
    """The run's copy holds the program and the judge only; every parameter named as one that must
    change is marked in the program."""
    for task in multi_param.TASKS:
        multi_param.lay_out(task, tmp_path / task)
        assert sorted(p.name for p in (tmp_path / task).iterdir()) == ["judge.py", "program.py", "pyproject.toml"]
        source = (tmp_path / task / "program.py").read_text()
        for name in multi_param.MUST_CHANGE[task]:
            last = name.split(".")[-1]
            marked = [line for line in source.splitlines() if "# autotrace: param" in line
                      and (f"def {last}(" in line or line.startswith(f"{last} ="))]
            assert marked, (task, name)


def test_step_summary_counts_changed_parameters_and_new_answers() -> None:
    """Hand-made ``autotrace show --json`` steps: a repeated answer is not new, nor is code that
    differs only in a comment; a changed parameter is named without its module part."""
    f = "def f(x):  # autotrace: param\n    return x\n"
    steps = [
        {"step": 0, "values": {"program.a": "1", "program.f": f}},
        {"step": 1, "values": {"program.a": "3", "program.f": f}, "candidate": {"program.a": "3"}, "response": "x",
         "other_answers": [{"candidate": {"program.a": "3"}}, {"candidate": {}},
                           {"candidate": {"program.f": "def f(x):\n    return x\n"}}], "note": ""},
        {"step": 2, "values": {"program.a": "3", "program.f": f}, "candidate": {"program.a": "3"}, "response": "x",
         "other_answers": [{"candidate": {"program.f": "def f(x):\n    return x + 1\n"}}], "note": ""},
    ]
    summary = multi_param.step_summary(steps)
    assert [(s["changed"], s["new"], s["answers"]) for s in summary] == [(["a"], 1, 4), (["f"], 1, 2)]
    steps[2].update(answers=3, new_answers=2)  # as the engine counted them: taken as they are
    summary = multi_param.step_summary(steps)
    assert [(s["changed"], s["new"], s["answers"]) for s in summary] == [(["a"], 1, 4), (["f"], 2, 3)]
