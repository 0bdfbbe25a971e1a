"""What a score means (the judge's mean, a raising example at the failure score, ties broken by the raising
count) and when a candidate replaces the best (a strictly higher mean, or with noise the paired test), in
the rule alone and through whole runs against the scripted model."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llmserver import ScriptedLLMServer

from autotrace.engine import pooled_best
from autotrace.evaluation import Draw, Evaluation, ExampleResult
from autotrace.judge import JudgeError, judge_failure_score
from autotrace.llm.client import LLMConfig
from autotrace.pool import Candidate
from autotrace.runners.optimize import RunResult, Settings, StepReport, draw_seed, optimize
from autotrace.runners.worker import seed_draw
from autotrace.scoring import ALPHA, ScoreRule, better


def judged(*scores: float | None, rule: ScoreRule | None = None) -> Evaluation:
    """An evaluation of one draw per example; None stands for an example that raised."""
    evaluation = Evaluation(tuple(ExampleResult(score=s, failed=s is None, example=str(i)) for i, s in enumerate(scores)))
    return evaluation.under(rule) if rule is not None else evaluation


def drawn(per_example: list[list[float]], rule: ScoreRule) -> Evaluation:
    """An evaluation with several draws per example."""
    return Evaluation(tuple(ExampleResult(score=d[0], example=str(i), more=tuple(Draw(s, False) for s in d[1:]))
                            for i, d in enumerate(per_example))).under(rule)


# -- the score is the judge's mean --------------------------------------------------------------------------
def test_a_raising_example_scores_the_failure_score_in_the_mean():
    original = judged(1.0, 1.0, 1.0, None, None, None)  # three parsed, three raised
    assert original.score == 0.5
    assert original.describe() == "0.5, 3 of 6 raised"
    assert original.complete_score is None  # a target needs a run where nothing raised


def test_fewer_raising_examples_do_not_buy_a_better_rank():
    original = judged(1.0, 1.0, 1.0, None, None, None)  # 0.5
    returns_zero = judged(1.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # one right, none raising: 0.17
    assert not better(returns_zero, original) and better(original, returns_zero)
    three_wrong = judged(1.0, 1.0, 1.0, 0.0, 0.0, 0.0)  # the same 0.5 on the judge: the raising count breaks the tie
    assert better(three_wrong, original) and not better(original, three_wrong)
    assert not better(judged(1.0, 1.0, 1.0, None, None, None), original)  # equal in all: no gain


def test_the_failure_score_is_the_lowest_score_so_far_unless_the_judge_scores_in_0_1():
    rule = ScoreRule()
    unit = judged(0.25, None, rule=rule)
    assert rule.failure_score == 0.0 and unit.score == 0.125
    version = rule.version
    errors = judged(-4.0, -9.0, rule=rule)  # a judge of minus errors: the lowest score so far
    assert rule.failure_score == -9.0 and rule.version > version
    assert unit.score == (0.25 - 9.0) / 2  # every evaluation of the run reads the rule it shares
    assert errors.score == -6.5
    fixed = ScoreRule(failure=-100.0)
    assert judged(-1.0, None, rule=fixed).score == -50.5 and fixed.failure_score == -100.0


def test_the_judge_module_sets_its_failure_score(tmp_path: Path):
    judge = tmp_path / "judge.py"
    judge.write_text("failure_score = -10\n\ndef feedback(output):\n    return 0.0\n")
    assert judge_failure_score(judge) == -10.0
    judge.write_text("def feedback(output):\n    return 0.0\n")
    assert judge_failure_score(judge) is None
    judge.write_text("failure_score = 'low'\n")
    with pytest.raises(JudgeError, match=r"judge.py:1: failure_score must be a number"):
        judge_failure_score(judge)


def test_draws_combine_into_one_evaluation_with_a_standard_error():
    rule = ScoreRule(repeats=3, noisy=True)
    draws = [judged(1.0, 0.0), judged(0.0, 0.0), judged(1.0, None)]
    combined = Evaluation.combine(draws).under(rule)
    assert [len(e.draws) for e in combined.examples] == [3, 3]
    assert combined.score == pytest.approx((2 / 3 + 0) / 2)
    # each draw's mean over the examples: 0.5, 0, 0.5 -> their standard error
    assert combined.stderr == pytest.approx((1 / 12) ** 0.5 / 3 ** 0.5)
    assert combined.raised == 1 and combined.describe() == "0.3333 ± 0.17, 1 of 6 raised"
    stored = Evaluation.from_record(combined.to_record()).under(rule)
    assert stored.score == combined.score and stored.stderr == combined.stderr


def test_under_noise_a_candidate_must_beat_the_best_by_the_paired_test():
    rng = random.Random(7)
    rule = ScoreRule(repeats=5, noisy=True)
    best = drawn([[rng.gauss(0.5, 0.2) for _ in range(5)] for _ in range(6)], rule)
    # as noisy, no better: across many such candidates, the rule accepts about ALPHA of them
    accepted = sum(better(drawn([[rng.gauss(0.5, 0.2) for _ in range(5)] for _ in range(6)], rule), best, noisy=True)
                   for _ in range(400))
    assert accepted <= 400 * ALPHA * 3
    # a higher mean by chance is not enough under noise
    higher_by_chance = [c for c in (drawn([[rng.gauss(0.5, 0.2) for _ in range(5)] for _ in range(6)], rule)
                                    for _ in range(100)) if c.score > best.score]
    assert len(higher_by_chance) > 10
    assert sum(better(c, best, noisy=True) for c in higher_by_chance) <= len(higher_by_chance) * 0.1
    clearly = drawn([[d + 0.3 for d in draws] for draws in
                     ([[e.draws[k].score for k in range(5)] for e in best.examples])], rule)
    assert better(clearly, best, noisy=True)
    same_draws = drawn([[e.draws[k].score for k in range(5)] for e in best.examples], rule)  # common random numbers
    assert not better(same_draws, best, noisy=True)
    assert better(clearly, best, noisy=False)  # without noise: a higher mean


def test_resume_picks_its_best_by_the_loops_own_rule():
    rule = ScoreRule(repeats=2, noisy=True)
    evaluations = {0: drawn([[0.5, 0.6], [0.4, 0.5]], rule), 1: drawn([[0.55, 0.62], [0.41, 0.49]], rule)}
    pool = [Candidate(i, {}, (), i, {}, "initial" if i == 0 else "proposal") for i in evaluations]
    assert evaluations[1].score > evaluations[0].score
    assert pooled_best(pool, evaluations, noisy=False).id == 1  # a higher mean
    assert pooled_best(pool, evaluations, noisy=True).id == 0  # within the noise: the same rule as the loop's


def test_each_draw_seeds_the_programs_random_generator_alike_for_every_candidate():
    seed_draw(draw_seed(0, 1), 2)
    first = random.random()
    seed_draw(draw_seed(0, 1), 2)
    assert random.random() == first
    seed_draw(draw_seed(0, 2), 2)
    assert random.random() != first


# -- whole runs ----------------------------------------------------------------------------------------------
PARSER = '''def parse(text):  # autotrace: param
    """A price as cents."""
    euros, cents = text.split(".")
    return int(euros) * 100 + int(cents)


def main(text):
    return parse(text)
'''
PARSER_JUDGE = '''CASES = {"1.50": 150, "0.05": 5, "12.00": 1200, "7": 700, "3,20": 320, "": 0}


def examples():
    return list(CASES)


def feedback(output, example):
    wanted = CASES[example]
    return float(output == wanted), f"parse({example!r}) returned {output!r}, expected {wanted}"
'''


def run(folder: Path, server: ScriptedLLMServer, progress: Callable[[StepReport], None] = lambda report: None,
        **options: Any) -> RunResult:
    settings = Settings(target=folder / "app.py", judge=folder / "judge.py",
                        llm=LLMConfig(model="scripted", base_url=server.base_url, api_key="test"),
                        cache=False, jobs=2, **options)
    return optimize(settings, progress)


def test_a_candidate_that_trades_right_answers_for_no_exceptions_is_no_patch(tmp_path: Path,
                                                                             llm_server: ScriptedLLMServer):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(PARSER)
    (tmp_path / "judge.py").write_text(PARSER_JUDGE)
    no_raise = "def parse(text):\n    return 0\n"  # right on "" only, raises nowhere: 1/6
    same_score = ('def parse(text):\n    if "." not in text:\n        return None\n'
                  '    euros, cents = text.split(".")\n    return int(euros) * 100 + int(cents)\n')  # 3/6, none raising
    llm_server.script(f"Never raise.\n```python\n{no_raise}```\n", f"Guard it.\n```python\n{same_score}```\n")
    result = run(tmp_path, llm_server, steps=2, resample=0, merge=False, max_unchanged=0)
    assert result.patch.diff == "" and result.best_values["app.parse"].startswith("def parse(text):  # autotrace")
    assert result.best_score == "0.5, 3 of 6 raised"
    assert result.no_patch == "no candidate scored better than the original values (0.5, 3 of 6 raised) on the judge"


NOISY = "KNOB = 1.0  # autotrace: param in [0, 10]\n\n\ndef main():\n    return KNOB\n"


def noisy_judge(lucky: float, lucky_seeds: list[int]) -> str:
    """A judge whose score is seeded noise, plus ``lucky`` for KNOB > 1 on the draws with these seeds only."""
    return (f"import os, random\nLUCKY = {sorted(lucky_seeds)!r}\n\n\ndef feedback(output):\n"
            f"    bonus = {lucky} if output > 1 and int(os.environ['AUTOTRACE_SEED']) in LUCKY else 0.0\n"
            "    return 0.5 + 0.1 * random.random() + bonus\n")


def test_a_noisy_program_is_detected_and_a_lucky_candidate_does_not_become_the_patch(tmp_path: Path,
                                                                                      llm_server: ScriptedLLMServer):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(NOISY)
    # KNOB = 2 is better on the run's five draws (seeds 0-4) and on no other: luck, not a gain
    lucky = [(draw_seed(0, k) * 1_000_003) % 2**32 for k in range(5)]
    (tmp_path / "judge.py").write_text(noisy_judge(0.3, lucky))
    llm_server.script({"reasoning": "raise it", "suggestion": {"app.KNOB": 2.0}})
    said: list[StepReport] = []
    result = run(tmp_path, llm_server, steps=1, probe=False, measured_step=False, resample=0, merge=False,
                 progress=said.append)
    assert said[0].note.startswith("initial values; noisy: the original values scored ")  # the progress line says so
    assert result.best_values["app.KNOB"] == 1.0 and result.patch.diff == ""
    assert "did not beat the original values on 5 fresh draws" in result.no_patch
    from autotrace.store import RunStore

    with RunStore(tmp_path / ".autotrace" / "autotrace.db") as store:
        steps = store.steps(result.run_id)
        candidates = store.candidates(result.run_id)
    assert "noisy: the original values scored" in steps[0].note and "each example runs 5 times" in steps[0].note
    assert len(steps[0].evaluation.examples[0].draws) == 5
    assert steps[1].evaluation.score > steps[0].evaluation.score + 0.25  # it did lead on the run's own draws
    assert len(candidates) == 2


def test_a_real_gain_under_noise_is_the_patch(tmp_path: Path, llm_server: ScriptedLLMServer):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(NOISY)
    every = [(draw_seed(0, k) * 1_000_003) % 2**32 for k in range(10)]  # the run's draws and the fresh ones
    (tmp_path / "judge.py").write_text(noisy_judge(0.3, every))
    llm_server.script({"reasoning": "raise it", "suggestion": {"app.KNOB": 2.0}})
    result = run(tmp_path, llm_server, steps=1, probe=False, measured_step=False, resample=0, merge=False)
    assert result.best_values["app.KNOB"] == 2.0 and "+KNOB = 2.0" in result.patch.diff and result.no_patch == ""
    assert "±" in result.best_score


def test_a_deterministic_program_is_run_once_per_example(tmp_path: Path, llm_server: ScriptedLLMServer):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "app.py").write_text(NOISY)
    (tmp_path / "judge.py").write_text("def feedback(output):\n    return -abs(output - 3)\n")
    llm_server.script({"reasoning": "raise it", "suggestion": {"app.KNOB": 2.0}})
    result = run(tmp_path, llm_server, steps=1, probe=False, measured_step=False, resample=0, merge=False)
    assert result.best_score == "-1" and "+KNOB = 2.0" in result.patch.diff
    assert result.evaluations == 3  # the original twice (the noise check), the candidate once
