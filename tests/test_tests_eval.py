"""Evaluating values with the project's tests (``autotrace optimize --tests``), on a copy of
``examples/pytest_project``: 3 of its 5 tests pass until both parameters are right."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from helpers import child_env
from inprocess import run_cli
from llmserver import ScriptedLLMServer

from autotrace.runners.sandbox import Limits
from autotrace.runners.tests_eval import SuiteEvaluation, SuiteEvaluator

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pytest_project"
THRESHOLD, BILLABLE = "shipping.rates.FREE_SHIPPING_FROM", "shipping.cost.billable_kg"
FIXED_BILLABLE = '''def billable_kg(weight_kg: float) -> int:
    """Kilograms the parcel service charges: every started kilogram counts in full."""
    whole = int(weight_kg)
    return whole if whole == weight_kg else whole + 1
'''
PASSING = {"tests/test_cost.py::test_whole_kilograms_are_charged_as_they_are",
           "tests/test_cost.py::test_small_order_pays_base_fee_and_weight",
           "tests/test_cost.py::test_orders_just_below_50_eur_pay"}


def copy_example(parent: Path) -> Path:
    folder = parent / "pytest_project"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", ".autotrace", ".pytest_cache"))
    return folder


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory):
    evaluator = SuiteEvaluator([copy_example(tmp_path_factory.mktemp("eval")) / "tests"], limits=Limits(timeout=180))
    project, initial = evaluator.prepare()
    return evaluator, project, initial


def test_the_initial_run_names_the_parameters_as_the_tests_import_them(prepared) -> None:
    evaluator, project, initial = prepared
    assert [p.name for p in project.params] == [BILLABLE, THRESHOLD]
    assert evaluator.baseline == PASSING
    assert initial.describe() == "0.6 (3/5 pass)" and math.isclose(initial.score, 0.6)
    assert evaluator(project, {p.name: p.initial for p in project.params}) is initial  # not run again


def test_each_failing_test_is_feedback_with_its_dag(prepared) -> None:
    _, _, initial = prepared
    feedback = initial.feedbacks()
    assert len(feedback) == 3 and [f.score for f in feedback] == [0.0, 0.0, 1.0]
    free = next(f for f in feedback if "test_orders_from_50_eur_ship_free" in f.text)
    assert free.text.startswith("FAILED tests/test_cost.py::test_orders_from_50_eur_ship_free (parameters its run "
                                f"reached: {BILLABLE}, {THRESHOLD})\nTraceback")
    assert "AssertionError: assert 8.5 == 0.0\n +  where 8.5 = shipping_cost(3.0, subtotal=50.0)" in free.text
    assert "test source:\ndef test_orders_from_50_eur_ship_free():" in free.text
    readers = {free.graph.nodes[n]["func"] for n in free.graph.successors(f"param:{THRESHOLD}")}
    assert readers == {"shipping.cost.shipping_cost"}
    assert feedback[-1].graph is None and feedback[-1].text.startswith("3 test(s) pass and must keep passing: ")


def test_values_that_fix_the_code_pass_every_test(prepared) -> None:
    evaluator, project, initial = prepared
    fixed = evaluator(project, {THRESHOLD: 50.0, BILLABLE: FIXED_BILLABLE})
    assert fixed.score == 1.0 and fixed.describe() == "1 (5/5 pass)" and fixed.rank > initial.rank


def test_breaking_a_passing_test_is_a_regression_that_costs_score(prepared) -> None:
    evaluator, project, initial = prepared
    broken = evaluator(project, {THRESHOLD: 0.0})  # every order ships free now
    assert broken.describe() == "0 (2/5 pass, 2 regressed)" and broken.rank < initial.rank
    assert broken.message().splitlines()[:3] == [
        "2/5 tests pass",
        "REGRESSION tests/test_cost.py::test_small_order_pays_base_fee_and_weight: AssertionError: assert 0.0 == 6.1",
        "REGRESSION tests/test_cost.py::test_orders_just_below_50_eur_pay: AssertionError: assert 0.0 == 8.5",
    ]
    assert broken.feedbacks()[0].text.startswith("REGRESSION: tests/test_cost.py::test_small_order_pays_base_fee_"
                                                 "and_weight passed with the initial values and fails now "
                                                 f"(parameters its run reached: {BILLABLE}, {THRESHOLD})")


def test_a_candidate_that_breaks_the_import_is_a_problem(prepared) -> None:
    evaluator, project, _ = prepared
    broken = evaluator(project, {BILLABLE: "def billable_kg(weight_kg: float) -> int:\n    return (\n"})
    assert isinstance(broken, SuiteEvaluation) and broken.rank == (-math.inf, -math.inf)
    assert broken.problem.startswith("collecting tests/test_cost.py failed:")
    assert "candidate does not parse" in broken.problem


def test_k_selects_the_tests(tmp_path: Path) -> None:
    project, initial = SuiteEvaluator([copy_example(tmp_path) / "tests"], keyword="kilogram").prepare()
    assert [e.example.split("::")[1] for e in initial.examples] == [
        "test_a_started_kilogram_counts_in_full", "test_whole_kilograms_are_charged_as_they_are"]


def test_no_selected_test_is_bad_input(tmp_path: Path) -> None:
    evaluator = SuiteEvaluator([copy_example(tmp_path) / "tests"], keyword="nothing_is_called_this")
    with pytest.raises(ValueError, match="no test ran in .*tests -k 'nothing_is_called_this': check the path and -k"):
        evaluator.prepare()
    with pytest.raises(ValueError, match="nowhere: no such test file or folder"):
        SuiteEvaluator([tmp_path / "nowhere"])


def test_optimize_tests_regression_feedback_then_a_fix_and_a_patch(tmp_path: Path,
                                                                      llm_server: ScriptedLLMServer) -> None:
    project = copy_example(tmp_path)
    before = {name: (project / "src" / "shipping" / name).read_bytes() for name in ("rates.py", "cost.py")}
    llm_server.script({"reasoning": "Ship everything free.", "suggestion": {THRESHOLD: 0.0, BILLABLE: None}},
                      {"reasoning": "Free from 50; round up.", "suggestion": {THRESHOLD: 50.0, BILLABLE: FIXED_BILLABLE}})
    env = child_env("OPENAI_", "AUTOTRACE_", "PYTEST_")
    # the measured search and the probes over the tests have their own test (test_tests_search): here
    # every step asks the model, and each step runs the tests once
    result = run_cli("optimize", "--tests", "tests/", "--steps", "4", "--no-measured-step", "--no-probe", "--no-merge",
                     "--timeout", "600", "--base-url", llm_server.base_url, "--model", "scripted", cwd=project,
                     env={**env, "OPENAI_API_KEY": "test"})
    assert result.returncode == 0, result.stderr
    assert "optimizing the tests in tests with optoprime" in result.stderr
    assert "best score: 1 (5/5 pass)" in result.stderr
    assert "-FREE_SHIPPING_FROM = 500.0  # autotrace: param" in result.stdout
    assert "+FREE_SHIPPING_FROM = 50.0  # autotrace: param" in result.stdout
    assert "+    return whole if whole == weight_kg else whole + 1" in result.stdout
    first, second = (r.json["messages"][-1]["content"] for r in llm_server.chat_requests)
    assert "eval1 = shipping.cost.billable_kg(weight_kg=2.3)\n" in first
    assert "AssertionError: assert 8.5 == 0.0\n +  where 8.5 = shipping_cost(3.0, subtotal=50.0)" in first
    assert "REGRESSION: tests/test_cost.py::test_small_order_pays_base_fee_and_weight" in second
    after = {name: (project / "src" / "shipping" / name).read_bytes() for name in ("rates.py", "cost.py")}
    assert after == before  # a patch only, without --apply
