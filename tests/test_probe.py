"""Sensitivity probes: the finite differences themselves, the #Sensitivity text, and the loop using
them (runs in this process, tests/inprocess.py, against the scripted LLM server over HTTP)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import answer, shop
from inprocess import run

from autotrace.evaluation import Evaluation, ExampleResult
from autotrace.optimizers.base import Sensitivity
from autotrace.params import ParamSpec
from autotrace.search.probe import Probe, goal_score, measured, nudged, probe


def spec(name: str, value: object, kind: str = "literal") -> ParamSpec:
    module, _, qualname = name.rpartition(".")
    return ParamSpec(key=name, path=Path(f"{module}.py"), module=module, qualname=qualname, kind=kind,
                     description="", initial=value, line=1)


def scored(score: float | None, failed: bool = False) -> Evaluation:
    return Evaluation([ExampleResult(score=score, failed=failed)])


# -- the finite difference --------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    (0.05, 0.055), (1.2, 1.32), (-2.0, -1.8), (0.0, 0.1), (3, 4), (40, 44), (-40, -36), (0, 1),
])
def test_nudged_moves_up_by_about_ten_percent(value, expected):
    result = nudged(value)
    assert type(result) is type(value)
    assert result == expected  # exactly: a probe may become the patched value, so no float noise


def test_the_estimate_of_a_linear_score_is_exact():
    # score = -|13.2 * m / 1.2 - 30| around m = 1.2, i.e. minus the error of a quote linear in m.
    def score(m: float) -> float:
        return -abs(11 * m - 30)

    p = Probe("main.MARKUP", 1.2, 1.32, score(1.2), score(1.32))
    assert p.value_for(0.0) == pytest.approx(30 / 11)
    assert p.value_for(-0.5) == pytest.approx(29.5 / 11)
    assert Probe("x", 1.0, 1.1, -3.0, -3.0).value_for(0.0) is None  # flat: no estimate
    assert Probe("x", 1.0, 1.1, -3.0, None).value_for(0.0) is None  # the probe failed


def test_the_goal_is_the_natural_best_of_the_score_else_the_target():
    assert goal_score(-16.8, None) == 0.0  # minus an error: no error is the best
    assert goal_score(-16.8, -0.5) == 0.0  # ... and passes the target too
    assert goal_score(0.4, 0.9) == 1.0  # a fraction or closeness: 1 is the best
    assert goal_score(0.4, None) == 1.0
    assert goal_score(-2.0, 1.0) == 1.0  # the target lies beyond 0
    assert goal_score(0.4, 5.0) == 5.0  # ... beyond 1
    assert goal_score(3.0, None) is None  # an unbounded score with no target: nothing to aim at
    assert goal_score(3.0, 2.0) is None


def test_probe_evaluates_each_numeric_literal_alone_and_nothing_else():
    params = [spec("m.RATE", 0.5), spec("m.COUNT", 10), spec("m.FLAG", True), spec("m.NAME", "x"),
              spec("m.SIZES", [1, 2]), spec("m.f", "def f():\n    return 1\n", kind="code")]
    values = {p.name: p.initial for p in params}
    seen: list[dict] = []

    def evaluate(candidate: dict) -> Evaluation:
        seen.append(candidate)
        return scored(-abs(candidate["m.RATE"] * candidate["m.COUNT"] - 10))

    probes = probe(params, values, scored(-5.0), evaluate)
    assert [(p.name, p.old, p.new, p.probed_score) for p in probes] == [
        ("m.RATE", 0.5, 0.55, pytest.approx(-4.5)), ("m.COUNT", 10, 11, pytest.approx(-4.5))]
    assert seen == [{**values, "m.RATE": 0.55}, {**values, "m.COUNT": 11}]  # one parameter changed at a time
    assert probes[0].values == seen[0] and probes[0].evaluation is not None


def test_no_probe_without_a_score():
    params = [spec("m.RATE", 0.5)]
    calls = []
    for current in (scored(None), Evaluation([], problem="did not import")):
        assert probe(params, {"m.RATE": 0.5}, current, lambda v: calls.append(v) or scored(1.0)) == []
    assert calls == []


def test_a_raising_example_is_probed_at_its_failure_score():
    """The score counts a raising example (at the failure score, 0 here): a nudge that stops the raise is a gain."""
    probes = probe([spec("m.RATE", 0.5)], {"m.RATE": 0.5}, scored(0.0, failed=True), lambda v: scored(1.0))
    assert [(p.name, p.score, p.probed_score) for p in probes] == [("m.RATE", 0.0, 1.0)]


def test_one_estimate_for_the_smallest_relative_change_and_no_nudged_values():
    probes = [Probe("main.MARKUP", 1.2, 1.32, -16.8, -15.48), Probe("pricing.COUNT", 4, 5, -16.8, -16.8),
              Probe("pricing.FEE", 1.0, 1.1, -16.8, None), Probe("pricing.PAGES", 200, 220, -16.8, -16.9)]
    result = measured(probes, target=-0.5)
    # MARKUP would need 2.727 (+127%), PAGES -3160 (-1680%): MARKUP is the smaller change
    assert result.estimates == {"main.MARKUP": 2.727}  # as shown: 4 significant digits
    assert result.text.splitlines() == [
        "- main.MARKUP: estimated best value 2.727 (measured: raising it by 10% raised the score by 1.32).",
        "- pricing.COUNT: raising it by 25% did not change the score.",
        "- pricing.FEE: raising it by 10% made the program fail or lose its score.",
        "- pricing.PAGES: raising it by 10% lowered the score by 0.1.",
        "The estimated best value is where a straight line through the two measurements reaches score 0 if only "
        "main.MARKUP changes: change only main.MARKUP, to that value.",
    ]
    assert "1.32 " not in result.text.replace("by 1.32", "")  # the nudged value is never shown
    assert measured(probes[1:], target=None).estimates == {"pricing.PAGES": -3160}  # an int parameter gets an int
    unbounded = measured([Probe("m.X", 0.5, 0.55, 2.4, 2.45)], None)  # nothing to aim at: no estimate
    assert (unbounded.text, unbounded.estimates) == ("- m.X: raising it by 10% raised the score by 0.05.", {})
    assert measured([], None) == Sensitivity()


# -- in the loop --------------------------------------------------------------------------------------
def test_the_prompt_shows_the_measured_sensitivity(tmp_path, llm_server):
    llm_server.script(answer(MARKUP=2.0), answer(MARKUP=2.5))
    ran = run(shop(tmp_path), llm_server, steps=2, measured_step=False)
    first = llm_server.chat_requests[0].json["messages"][-1]["content"]
    section = first[first.index("#Sensitivity"):first.index("Answer with")]
    assert "- shop.PRICE: raising it by 10% raised the score by 1.2." in section
    assert "- shop.MARKUP: estimated best value 2.727 (measured: raising it by 10% raised the score by 1.32)." in section
    assert "shop.NAME" not in section  # strings are not probed
    assert '"shop.MARKUP": <a number (measured estimate: 2.727), or null>' in first  # in the answer's slot too
    assert '"shop.NAME": <a string, or null>' in first
    assert "use it exactly" in llm_server.chat_requests[0].json["messages"][0]["content"]  # the system prompt's rule
    second = llm_server.chat_requests[1].json["messages"][-1]["content"]
    assert "- shop.MARKUP: estimated best value 2.727 (measured: raising it by 10% raised the score by 2.2)" in second
    assert ran.steps[1].sensitivity.startswith("- shop.PRICE: raising it by 10% raised")  # stored with the step


def test_a_probe_that_reaches_the_target_ends_the_run_and_is_the_patch(tmp_path, llm_server):
    # MARKUP 2.5 gives 27.5; then the probe PRICE 0.055 gives (1 + 11) * 2.5 = 30 exactly.
    llm_server.script(answer(MARKUP=2.5), answer(MARKUP=9.0))
    ran = run(shop(tmp_path), llm_server, steps=5, target_score=-0.5, measured_step=False)
    assert ran.result.reached_target and [s.step for s in ran.steps] == [0, 1, 2]
    assert len(llm_server.chat_requests) == 1  # the second step's probe reached the target: no second question
    assert ran.steps[2].evaluation.score == 0 and ran.steps[2].note.endswith("probe shop.PRICE = 0.055 is the best so far")
    assert "-PRICE = 0.05  # autotrace: param\n-MARKUP = 1.2  # autotrace: param\n" \
           "+PRICE = 0.055  # autotrace: param\n+MARKUP = 2.5  # autotrace: param" in ran.diff
    assert (tmp_path / "shop.py").read_text().startswith("PRICE = 0.05  # autotrace: param\nMARKUP = 1.2 ")


def test_a_measured_step_takes_the_estimate_without_asking_the_model(tmp_path, llm_server):
    # The score is linear in MARKUP, so the line's estimate is exact: (1 + 10) * 2.727 = 30.0. Four runs: the
    # probes of PRICE and MARKUP, the estimate 2.72727, and its four-digit form 2.727, which scores as well.
    ran = run(shop(tmp_path), llm_server, steps=5, target_score=-0.5)
    assert ran.result.reached_target and llm_server.chat_requests == []
    step = ran.steps[1]
    assert step.evaluation.score == 0 and (step.prompt_tokens, step.completion_tokens) == (0, 0)
    assert step.candidate == {"shop.MARKUP": "2.727"} and len(step.evaluated or ()) == 4  # four program runs
    assert step.note.endswith("measured step: shop.MARKUP = 2.727 (measured in 4 program runs), no LLM call")
    assert "-MARKUP = 1.2  # autotrace: param\n+MARKUP = 2.727  # autotrace: param" in ran.diff


def test_a_measured_step_finds_the_vertex_where_the_line_overshoots(tmp_path, llm_server):
    # Minus the error to the power 0.25: the probes barely move the score, so the line overshoots; the
    # search still lands within the target without a question.
    ran = run(shop(tmp_path, power=0.25), llm_server, steps=3, target_score=-0.5)
    assert ran.result.reached_target and llm_server.chat_requests == []
    assert re.search(r"measured step: shop\.\w+ = ", ran.steps[1].note) and ran.steps[1].prompt == ()


def flat(folder: Path) -> Path:
    """The shop, judged so that the numbers are already at their best: the missing point is the name's."""
    shop(folder, wanted=13.2)
    (folder / "judge.py").write_text("def feedback(output):\n    return -abs(round(output - 13.2, 2)) - 1, "
                                     "'the shop must be called Corner Shop'\n")
    return folder


def test_when_the_search_finds_nothing_better_the_model_is_asked_without_an_estimate(tmp_path, llm_server):
    llm_server.script(answer(NAME="Corner Shop"))
    ran = run(flat(tmp_path), llm_server, steps=1, measured_runs=12)
    assert ran.steps[1].candidate == {"shop.NAME": "'Corner Shop'"}
    assert ran.steps[1].note.endswith("changed shop.NAME; measured search: nothing better in 12 new program runs")
    prompt = llm_server.chat_requests[0].json["messages"][-1]["content"]
    assert "estimated best value" not in prompt and "measured estimate" not in prompt
    assert "estimate" not in llm_server.chat_requests[0].json["messages"][0]["content"]  # nor the rule for one
    assert "- shop.MARKUP: raising it by 10% lowered the score by" in prompt  # the measurement itself stays


def test_a_second_search_from_the_same_values_runs_nothing_again(tmp_path, llm_server):
    # The search ends on its own (the simplex shrinks) before its runs are spent; from the
    # same values it takes the same path the next step, and every point on it is known.
    llm_server.script(answer(), answer())
    ran = run(flat(tmp_path), llm_server, steps=2, measured_runs=100, resample=0)
    first = re.search(r"measured search: nothing better in (\d+) new program runs$", ran.steps[1].note)
    assert first and 0 < int(first[1]) < 100, ran.steps[1].note
    assert ran.steps[2].note.endswith("measured search: nothing better in 0 new program runs")


def test_no_probe_sends_no_sensitivity(tmp_path, llm_server):
    llm_server.script(answer(MARKUP=2.0))
    ran = run(shop(tmp_path), llm_server, steps=1, probe=False)
    assert ran.steps[1].sensitivity == "" and "#Sensitivity" not in llm_server.chat_requests[0].json["messages"][-1]["content"]


def test_opro_gets_the_sensitivity_too(tmp_path, llm_server):
    llm_server.script(answer(MARKUP=2.0))
    run(shop(tmp_path), llm_server, steps=1, optimizer="opro", measured_step=False)
    assert "- shop.MARKUP: estimated best value 2.727" in llm_server.chat_requests[0].json["messages"][-1]["content"]
