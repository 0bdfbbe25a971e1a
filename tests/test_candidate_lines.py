"""Tracebacks, warnings and ``inspect.getsource`` show the source that ran: a candidate function's own
lines (it may be shorter or longer than the original), and the user's real lines for everything else.
Checked for a plain run (the worker child), ``--in-process`` and ``--tests``."""

from __future__ import annotations

import inspect
import linecache
import re
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from autotrace.optimizers.render import render_problem
from autotrace.project import Project
from autotrace.runners.program_runs import make_job, run_evaluation
from autotrace.runners.sandbox import Limits
from autotrace.runners.tests_eval import SuiteEvaluator
from autotrace.runtime import Runtime
from autotrace.transforms.compile import place_candidates
from autotrace.transforms.hook import Target, _substitute, install, uninstall
from autotrace.transforms.plan import ModulePlan

APP = '''\
def helper(x):
    return x + 1


def slugify(title):  # autotrace: param
    """The slug of ``title``.

    Written over several lines, so that a candidate without it is shorter.
    """
    slug = title.strip()
    return slug.lower()


def after(text):
    raise ValueError(f"after: {text}")


def main():
    return slugify("A B")
'''
#: Drops the docstring (the original's line 8 is now the candidate's `slug = slug.lower()`), reads an
#: unassigned local, as in issue 23's report.
BROKEN = '''\
def slugify(title):
    title = title.strip()
    slug = slug.lower()
    return slug
'''
#: Longer than the original: the error is raised in `after`, below the candidate in the file.
LONGER = '''\
def slugify(title):
    """One."""
    a = title.strip()
    b = a.lower()
    c = b.replace(" ", "-")
    d = c
    e = d
    return after(e)
'''
JUDGE = "def feedback(output):\n    return (1.0, 'ok') if output == 'a-b' else (0.0, f'got {output!r}')\n"


def frames(text: str) -> list[tuple[str, int, str, str]]:
    """``(file, line, function, shown text)`` of each frame of a formatted traceback."""
    return [(m[1], int(m[2]), m[3], m[4].strip())
            for m in re.finditer(r'File "([^"]+)", line (\d+), in (\S+)\n([^\n]*)', text)]


def project_at(tmp_path: Path) -> Project:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "judge.py").write_text(JUDGE)
    return Project.load(tmp_path / "app.py")


def ran_lines(candidate: str) -> dict[int, str]:
    """Line number -> text of the source that ran with ``candidate`` substituted."""
    text, _ = place_candidates(APP, _substitute(APP, {"slugify": candidate}), ["slugify"])
    return {n: line.strip() for n, line in enumerate(text.splitlines(), 1)}


@pytest.mark.parametrize("isolated", [True, False], ids=["worker", "in-process"])
def test_a_candidate_that_shifts_lines_and_raises_is_shown_by_its_own_lines(tmp_path, isolated):
    project = project_at(tmp_path)
    job = make_job(project, tmp_path / "app.py", "main", tmp_path / "judge.py", {"app.slugify": BROKEN})
    evaluation = run_evaluation(job, Limits(timeout=60), isolated=isolated)
    feedback = evaluation.message()
    shown = frames(feedback)
    assert [(func, text) for _, _, func, text in shown] == [("main", 'return slugify("A B")'),
                                                            ("slugify", "slug = slug.lower()")]
    lines = ran_lines(BROKEN)
    assert all(lines[number] == text for _, number, _, text in shown)
    assert shown[0][1] == APP.splitlines().index('    return slugify("A B")') + 1  # the line on disk
    assert "UnboundLocalError" in feedback
    # the prompt numbers the candidate as the traceback does
    problem = render_problem(evaluation.feedbacks(), project.params, {"app.slugify": BROKEN}, instruction="x",
                             budget_tokens=4000)
    listing = problem[problem.index("app.slugify as it ran, numbered as in the traceback:\n"):]
    assert f"{shown[1][1]} |     slug = slug.lower()\n" in listing
    assert f"{shown[1][1] - 2} | def slugify(title):  # autotrace: param\n" in listing
    assert str(tmp_path / "app.py") not in linecache.cache or linecache.getline(str(tmp_path / "app.py"), shown[0][1]) \
        .strip() == 'return slugify("A B")'  # in-process: nothing of the candidate is left behind


def test_functions_below_a_longer_candidate_keep_the_users_lines(tmp_path):
    project = project_at(tmp_path)
    job = make_job(project, tmp_path / "app.py", "main", tmp_path / "judge.py", {"app.slugify": LONGER})
    shown = frames(run_evaluation(job, Limits(timeout=60)).message())
    assert [(func, text) for _, _, func, text in shown] == [
        ("main", 'return slugify("A B")'), ("slugify", "return after(e)"), ("after", 'raise ValueError(f"after: {text}")')]
    disk = APP.splitlines()
    assert disk[shown[2][1] - 1].strip() == shown[2][3]  # `after` is where it is in the file
    assert ran_lines(LONGER)[shown[1][1]] == "return after(e)"


def test_getsource_and_warnings_read_the_candidate_while_it_is_imported(tmp_path, recwarn):
    (tmp_path / "shiftmod.py").write_text(APP.replace("def after", "import warnings\n\n\ndef after"))
    candidate = 'def slugify(title):\n    warnings.warn("careful")\n    return title\n'
    plan = ModulePlan("shiftmod", functions={"slugify": "shiftmod.slugify"}, param_names=frozenset({"shiftmod.slugify"}))
    finder = install({tmp_path / "shiftmod.py": Target(plan, {"slugify": candidate})}, Runtime({}), cache=False)
    sys.path.insert(0, str(tmp_path))
    try:
        import shiftmod

        assert inspect.getsource(shiftmod.slugify) == candidate.replace("(title):", "(title):  # autotrace: param")
        shiftmod.slugify("x")
        warning = recwarn.pop(UserWarning)
        assert linecache.getline(warning.filename, warning.lineno).strip() == 'warnings.warn("careful")'
        assert inspect.getsource(shiftmod.after).startswith("def after(text):")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("shiftmod", None)
        uninstall(finder)
    assert linecache.getline(str(tmp_path / "shiftmod.py"), 1) == "def helper(x):\n"  # the file again


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pytest_project"


def test_a_candidate_that_raises_under_tests_is_shown_by_its_own_lines(tmp_path):
    folder = tmp_path / "pytest_project"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", ".autotrace", ".pytest_cache"))
    evaluator = SuiteEvaluator([folder / "tests"], limits=Limits(timeout=180))
    project, _ = evaluator.prepare()
    name = "shipping.cost.billable_kg"
    broken = textwrap.dedent('''\
        def billable_kg(weight_kg: float) -> int:
            whole = int(weight_kg)
            return wrong + whole
    ''')
    values = {p.name: p.initial for p in project.params} | {name: broken}
    evaluation = evaluator(project, values)
    text = "\n".join(f.text for f in evaluation.feedbacks())
    shown = [f for f in frames(text) if f[2] == "billable_kg"]
    assert shown and all(text == "return wrong + whole" for *_, text in shown)
    original = (folder / "src" / "shipping" / "cost.py").read_text()
    assert "return wrong + whole" not in original  # the file is untouched: the line came from the candidate
    ran, _ = place_candidates(original, _substitute(original, {"billable_kg": broken}), ["billable_kg"])
    assert {ran.splitlines()[number - 1].strip() for _, number, _, _ in shown} == {"return wrong + whole"}


def test_the_benchmark_check_finds_a_quoted_line_that_did_not_run(tmp_path):
    from benchmarks.traceback_check import check_prompt

    (tmp_path / "app.py").write_text(APP)
    variables = f"#Variables\n(code) app.slugify =\n{BROKEN}\n"

    def prompt(line: int, text: str, main_text: str = 'return slugify("A B")') -> str:
        return (f"#Instruction\nx\n\n{variables}\n#Feedback\nTraceback (most recent call last):\n"
                f'  File "{tmp_path / "app.py"}", line 19, in main\n    {main_text}\n'
                f'  File "{tmp_path / "app.py"}", line {line}, in slugify\n    {text}\nUnboundLocalError: x\n')

    good = check_prompt(prompt(26, "slug = slug.lower()"), tmp_path)
    assert good == {"frames": 2, "in_candidates": 1, "wrong": []}
    stale = check_prompt(prompt(8, "slug = title.strip()"), tmp_path)  # issue 23: the file's line 8, not the candidate's
    assert stale["wrong"] == ["app.py:8 in slugify: shows 'slug = title.strip()'"]
    assert check_prompt(prompt(26, "slug = slug.lower()", "return main()"), tmp_path)["wrong"] == [
        "app.py:19 in main: shows 'return main()'"]
