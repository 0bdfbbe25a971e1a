"""``autotrace optimize --tests --holdout-tests EXPR``: the tests a pytest ``-k`` style expression
matches are held out, as a judge's validation examples are (real pytest runs against the scripted LLM
server over HTTP; the run in this process, tests/inprocess.py, or through ``autotrace optimize`` for the
option's own paths: bad input, the config key, resume).

The project: a pass mark (``PASS_MARK = 90``) and three visible tests, of which one can never pass
with the two candidates scripted (so neither reaches the target and the run goes on), and one
held-out test at the boundary that a mark of 50 breaks and a mark of 65 keeps:

============  ==========  ==========  ===========
PASS_MARK     visible     held out    chosen on
============  ==========  ==========  ===========
90 (initial)  1/3 pass    1/1 pass
50 (step 1)   2/3 pass    regressed   the visible tests (the first of two equals)
65 (step 2)   2/3 pass    1/1 pass    the held-out test: the patch
============  ==========  ==========  ===========
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from helpers import child_env
from inprocess import run_cli, run_tests
from llmserver import ScriptedLLMServer

from autotrace.runners.sandbox import Limits
from autotrace.runners.tests_eval import SuiteEvaluator
from autotrace.store import RunStore

MARK = "grading.rules.PASS_MARK"
RULES = '''"""When an exam passes."""

PASS_MARK = 90  # autotrace: param points from which an exam passes


def grade(points: int) -> str:
    return "pass" if points >= PASS_MARK else "fail"
'''
TESTS = '''import pytest

from grading.rules import grade


def test_a_full_score_passes():
    assert grade(100) == "pass"


def test_seventy_points_pass():
    assert grade(70) == "pass"


def test_thirty_points_pass():
    assert grade(30) == "pass"


@pytest.mark.validation
def test_sixty_points_fail_at_the_boundary():
    print("HELD-OUT-CAPTURED-OUTPUT")
    assert grade(60) == "fail", "HELD-OUT-ASSERTION-MESSAGE"
'''
HELD_OUT = "tests/test_rules.py::test_sixty_points_fail_at_the_boundary"


def grading(folder: Path) -> Path:
    (folder / "src" / "grading").mkdir(parents=True)
    (folder / "tests").mkdir()
    (folder / "pyproject.toml").write_text('[tool.autotrace]\n\n[tool.pytest.ini_options]\npythonpath = ["src"]\n'
                                           'markers = ["validation: held out"]\n')
    (folder / "src" / "grading" / "__init__.py").write_text("")
    (folder / "src" / "grading" / "rules.py").write_text(RULES)
    (folder / "tests" / "test_rules.py").write_text(TESTS)
    return folder


def optimize(folder: Path, server: ScriptedLLMServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env("OPENAI_", "AUTOTRACE_", "PYTEST_")
    return run_cli("optimize", "--tests", "tests/", *args, "--base-url", server.base_url, "--model", "scripted",
                   cwd=folder, env={**env, "OPENAI_API_KEY": "test"})


def mark(value: int) -> dict:
    return {"reasoning": "scripted", "suggestion": {MARK: value}}


def test_the_evaluation_holds_the_matching_tests_out_as_pytest_matches_them(tmp_path: Path) -> None:
    # "validation" is a marker: pytest's -k matches markers too, which hand-written name matching would miss
    evaluator = SuiteEvaluator([grading(tmp_path) / "tests"], holdout="validation")
    project, initial = evaluator.prepare()
    assert [e.example for e in initial.holdout] == [HELD_OUT]
    assert HELD_OUT not in {e.example for e in initial.examples} and len(initial.examples) == 3
    assert initial.describe() == "0.333 (1/3 pass), val 1 (1/1 pass)"
    shown = initial.message() + "".join(f.text for f in initial.feedbacks())
    assert "sixty" not in shown
    broken = evaluator(project, {MARK: 50})
    assert broken.describe() == "0.667 (2/3 pass), val -1 (0/1 pass, 1 regressed)"
    assert "HELD-OUT" not in broken.message() + "".join(f.text for f in broken.feedbacks())
    assert "HELD-OUT-ASSERTION-MESSAGE" in broken.holdout[0].message  # run and judged, only not shown


def test_the_patch_is_the_best_on_the_held_out_tests_which_no_prompt_shows(tmp_path: Path,
                                                                             llm_server: ScriptedLLMServer) -> None:
    folder = grading(tmp_path)
    llm_server.script(mark(50), mark(65))
    result = optimize(folder, llm_server, "--holdout-tests", "boundary", "--steps", "2", "--no-probe",
                      "--no-merge", "--max-unchanged", "0")
    assert result.returncode == 1, result.stderr  # the visible tests never all pass: the target is not reached
    assert "optimizing the tests in tests, holding out 'boundary'" in result.stderr
    assert re.search(r"^step +0/2 +score 0\.333 \(1/3 pass\), val 1 \(1/1 pass\)", result.stderr, re.MULTILINE)
    assert re.search(r"^step +1/2 +score 0\.667 \(2/3 pass\), val -1 \(0/1 pass, 1 regressed\) +best 0\.667 ",
                     result.stderr, re.MULTILINE)
    assert re.search(r"^step +2/2 +score 0\.667 \(2/3 pass\), val 1 \(1/1 pass\) +best 0\.667 \(2/3 pass\), "
                     r"val -1 ", result.stderr, re.MULTILINE)  # equal on the visible tests: step 1 stays best
    assert "best score: 0.667 (2/3 pass), val 1 (1/1 pass)" in result.stderr
    assert "+PASS_MARK = 65  # autotrace: param" in result.stdout and "PASS_MARK = 50" not in result.stdout
    prompts = [json.dumps(r.json) for r in llm_server.chat_requests]
    assert len(prompts) == 2 and "test_seventy_points_pass" in prompts[0]
    for prompt in prompts:  # step 2's prompt follows the regression of the held-out test: still unseen
        assert "sixty" not in prompt and "boundary" not in prompt and "HELD-OUT" not in prompt
    with RunStore(folder / ".autotrace" / "autotrace.db") as store:
        steps = store.steps(result.stderr.split("run: ")[1].split()[0])
    assert [s.describe for s in steps] == ["0.333 (1/3 pass), val 1 (1/1 pass)",
                                           "0.667 (2/3 pass), val -1 (0/1 pass, 1 regressed)",
                                           "0.667 (2/3 pass), val 1 (1/1 pass)"]
    assert all([e.example for e in s.evaluation.holdout] == [HELD_OUT] for s in steps)
    assert (folder / "src" / "grading" / "rules.py").read_text() == RULES  # a patch only, without --apply


def test_an_expression_that_is_no_expression_is_bad_input_before_any_test_runs(
        tmp_path: Path, llm_server: ScriptedLLMServer) -> None:
    result = optimize(grading(tmp_path), llm_server, "--holdout-tests", "boundary and (")
    assert result.returncode == 2, result.stderr
    assert re.fullmatch(r"autotrace: error: --holdout-tests 'boundary and \(' is not a -k expression at column \d+: .*\n",
                        result.stderr), result.stderr  # one line
    assert llm_server.requests == []  # before any LLM call


@pytest.mark.parametrize(("expression", "said"), [
    ("no_test_is_called_this", r"--holdout-tests 'no_test_is_called_this' matches none of the 4 tests that ran"),
    ("test_rules", r"--holdout-tests 'test_rules' matches all 4 tests that ran: none would be left"),
])
def test_an_expression_that_holds_out_nothing_or_everything_is_bad_input(
        tmp_path: Path, expression: str, said: str) -> None:
    # through the command (exit 2, one line, no LLM call): test_the_config_key_holds_tests_out_as_the_option_does
    with pytest.raises(ValueError, match=f"^{said}"):
        SuiteEvaluator([grading(tmp_path) / "tests"], holdout=expression, limits=Limits(timeout=300)).prepare()


def test_the_config_key_holds_tests_out_as_the_option_does(tmp_path: Path, llm_server: ScriptedLLMServer) -> None:
    folder = grading(tmp_path)
    pyproject = folder / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.autotrace]\n", '[tool.autotrace]\nholdout_tests = "nothing_here"\n'))
    result = optimize(folder, llm_server)
    assert result.returncode == 2 and "--holdout-tests 'nothing_here' matches none of the 4 tests" in result.stderr
    pyproject.write_text(pyproject.read_text().replace('"nothing_here"', "3"))
    result = optimize(folder, llm_server)
    assert result.returncode == 2 and "[tool.autotrace] holdout_tests must be a pytest -k expression" in result.stderr
    assert llm_server.requests == []


def test_holdout_tests_needs_tests(tmp_path: Path, llm_server: ScriptedLLMServer) -> None:
    folder = grading(tmp_path)
    (folder / "app.py").write_text("X = 1  # autotrace: param\n\ndef main():\n    return X\n")
    (folder / "judge.py").write_text("def feedback(output):\n    return 1.0\n")
    env = child_env("OPENAI_", "AUTOTRACE_")
    result = run_cli("optimize", "app.py", "--feedback", "judge.py", "--holdout-tests", "x", "--base-url",
                     llm_server.base_url, "--model", "scripted", cwd=folder, env=env)
    assert result.returncode == 2
    assert result.stderr == "autotrace: error: --holdout-tests holds tests out: it needs --tests\n"


BREAKING = '''import ctypes

from grading.rules import grade

if grade(95) == "fail":
    raise ImportError("HELD-OUT-COLLECTION-ERROR")


def test_the_boundary_crashes_the_run_when_sixty_passes():
    if grade(60) == "pass":
        ctypes.string_at(0)  # a segmentation fault: pytest dies without a report, its output names this test
'''


def test_a_held_out_file_that_breaks_or_crashes_the_run_is_not_named_to_the_optimizer(tmp_path: Path) -> None:
    folder = grading(tmp_path)
    (folder / "tests" / "test_boundary_breaks.py").write_text(BREAKING)
    evaluator = SuiteEvaluator([folder / "tests"], holdout="boundary")
    project, initial = evaluator.prepare()
    assert initial.describe() == "0.333 (1/3 pass), val 1 (2/2 pass)"
    # a mark above 95 breaks the held-out file's import: the visible tests are still judged
    broken = evaluator(project, {MARK: 99})
    assert broken.problem is None and broken.describe() == "0.333 (1/3 pass), val 0 (1/2 pass, 1 regressed)"
    assert "tests/test_boundary_breaks.py::test_the_boundary_crashes_the_run_when_sixty_passes" in {
        e.example for e in broken.holdout}
    assert "HELD-OUT" not in broken.message() + "".join(f.text for f in broken.feedbacks())
    # a mark of 50 crashes pytest in a held-out test: a problem, whose text does not name it
    crashed = evaluator(project, {MARK: 50})
    assert crashed.problem and "pytest ended" in crashed.problem, crashed.problem
    assert "boundary" not in crashed.problem and "HELD-OUT" not in crashed.problem, crashed.problem


def test_a_fit_to_the_visible_tests_alone_does_not_end_the_run(tmp_path: Path,
                                                                llm_server: ScriptedLLMServer) -> None:
    # examples/threshold_tests: moving the fever threshold to 37.5 passes every visible test and breaks a
    # held-out one; the run goes on (the target counts on the held-out tests too) and the next answer,
    # the fixed comparison, is the patch.
    import shutil

    folder = tmp_path / "threshold_tests"
    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "threshold_tests", folder,
                    ignore=shutil.ignore_patterns(".autotrace", "__pycache__"))
    source = (folder / "src" / "thermometer" / "readings.py").read_text()
    function = source[source.index("def classify"):]
    moved = function.replace("celsius > FEVER_FROM_C", "celsius > 37.5")
    fixed = function.replace("celsius > FEVER_FROM_C", "celsius >= FEVER_FROM_C")
    llm_server.script(f"Move the threshold.\n```python\n{moved}```\n", f"Compare with >=.\n```python\n{fixed}```\n")
    ran = run_tests(folder, llm_server, holdout_tests="boundaries", steps=3, probe=False)
    assert ran.result.reached_target and [s.step for s in ran.steps] == [0, 1, 2]
    assert ran.steps[1].describe.startswith("1 (4/4 pass), val 0.333 ")
    assert ran.steps[2].describe.startswith("1 (4/4 pass), val 1 (3/3 pass)")
    assert "+    if celsius >= FEVER_FROM_C:" in ran.diff and "37.5" not in ran.diff
    assert len(llm_server.chat_requests) == 2


def test_a_resumed_run_holds_out_the_tests_it_was_started_with(tmp_path: Path, llm_server: ScriptedLLMServer) -> None:
    folder = grading(tmp_path)
    llm_server.script(mark(50))
    first = optimize(folder, llm_server, "--holdout-tests", "boundary", "--steps", "1", "--no-probe", "--no-merge",
                     "--max-unchanged", "0")
    assert first.returncode == 1, first.stderr
    run_id = first.stderr.split("run: ")[1].split()[0]

    # another held-out set, typed: one line, exit 2, before anything is run or asked
    other = optimize(folder, llm_server, "--holdout-tests", "full_score", "--steps", "2", "--resume", run_id)
    assert other.returncode == 2 and len(llm_server.chat_requests) == 1, other.stderr
    assert other.stderr.splitlines() == [
        f"autotrace: error: run {run_id} was started with --holdout-tests 'boundary', not --holdout-tests "
        "'full_score': drop --holdout-tests to resume it as it was, or start a new run"]
    # a program under a judge instead of the tests (what the run's scores mean changes with it)
    (folder / "judge.py").write_text("def feedback(output):\n    return 1.0\n")
    elsewhere = run_cli("optimize", "src/grading/rules.py", "--feedback", "judge.py", "--resume", run_id, "--base-url",
                        llm_server.base_url, "--model", "scripted", cwd=folder, env=dict(os.environ))
    assert elsewhere.returncode == 2 and f"run {run_id} optimized the tests in {folder / 'tests'}, not a program " \
        "under a judge" in elsewhere.stderr, elsewhere.stderr

    # not given again: the stored one, said in one line
    llm_server.script(mark(65))
    resumed = optimize(folder, llm_server, "--steps", "2", "--no-probe", "--no-merge", "--max-unchanged", "0",
                       "--resume", run_id)
    assert resumed.returncode == 1, resumed.stderr
    assert f"resuming run {run_id} as it was started: --holdout-tests 'boundary'" in resumed.stderr
    assert "holding out 'boundary'" in resumed.stderr
    assert re.search(r"^step +2/2 +score 0\.667 \(2/3 pass\), val 1 \(1/1 pass\)", resumed.stderr, re.MULTILINE), \
        resumed.stderr
    assert "+PASS_MARK = 65  # autotrace: param" in resumed.stdout
    assert "sixty" not in json.dumps(llm_server.chat_requests[-1].json)
