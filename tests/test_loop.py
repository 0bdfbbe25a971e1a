"""The optimization loop's choice of the values each prompt is about: runs in this process (tests/inprocess.py)
against the scripted model, asserting on the stored steps and the prompts the model was sent."""

from __future__ import annotations

import re

from helpers import answer, shop
from inprocess import run

from autotrace.engine.state import Stall as _Stall
from autotrace.evaluation import Evaluation, ExampleResult
from autotrace.llm.client import derived_seed
from autotrace.scoring import better as _better


def test_a_worse_candidate_is_shown_once_then_an_unchanged_answer_goes_back_to_the_best(tmp_path, llm_server):
    # quote = (1 + 200 * PRICE) * MARKUP against 30: MARKUP 1.2 gives -16.8, MARKUP 0.5 gives -24.5.
    llm_server.script(answer(MARKUP=0.5), answer(), answer(MARKUP=2.5))
    ran = run(shop(tmp_path), llm_server, steps=3, probe=False, resample=0)
    first, second, third = (r.json["messages"][-1]["content"] for r in llm_server.chat_requests)
    assert "(float) shop.MARKUP = 0.5" in second  # the model sees what its own change did
    assert ran.steps[1].values["shop.MARKUP"] == "0.5" and ran.steps[2].values["shop.MARKUP"] == "1.2"
    assert ran.steps[2].candidate == {} and ran.steps[2].note.endswith("back to the best values")
    assert "(float) shop.MARKUP = 1.2" in third
    problems = third[third.index("#Problems"):]
    assert "Your previous answer kept every variable as it was" in problems
    assert "(code)" not in problems  # no code parameter here: nothing to say about rewriting functions
    assert "+MARKUP = 2.5  # autotrace: param" in ran.diff


def test_the_memory_starts_from_the_initial_values_and_leaves_out_the_current_ones(tmp_path, llm_server):
    llm_server.script(answer(MARKUP=0.5), answer(MARKUP=0.6))
    run(shop(tmp_path), llm_server, steps=2, probe=False)
    first, second = (r.json["messages"][-1]["content"] for r in llm_server.chat_requests)
    memory = lambda text: text[text.index("#Earlier attempts"):text.index("Answer with")]  # noqa: E731
    assert "#Earlier attempts" not in first  # the initial values are the current ones: #Feedback is about them
    # after a worse change, the model sees what it started from and how that scored; not the current values
    assert re.search(r"attempt 1: score -16\.8\n  shop\.MARKUP = 1\.2\n  feedback: ", memory(second))
    assert "attempt 2" not in memory(second) and "(float) shop.MARKUP = 0.5" in second


def test_the_run_stops_when_its_question_repeats(tmp_path, llm_server):
    # Two unchanged answers: the second prompt points out the first; the third would be the second again.
    llm_server.script(answer(), answer())
    ran = run(shop(tmp_path), llm_server, steps=5, probe=False, target_score=0, max_unchanged=0, resample=0)
    assert not ran.result.reached_target and ran.result.stopped_by == "repeated"
    assert len(llm_server.chat_requests) == 2
    assert ran.note(3).startswith("stopped before step 3: its question was asked at an earlier step")
    assert [s.step for s in ran.steps] == [0, 1, 2] and max(r.step for r in ran.reports) == 3


def test_the_run_stops_after_two_answers_that_change_nothing(tmp_path, llm_server):
    # An unchanged answer, then one whose only change is rejected (a string for a number): the third
    # question differs (it shows the rejection), but neither answer gave anything to evaluate.
    llm_server.script(answer(), answer(MARKUP="more"), answer(MARKUP=2.5))
    ran = run(shop(tmp_path), llm_server, steps=5, probe=False, target_score=0, resample=0)
    assert not ran.result.reached_target and ran.result.stopped_by == "unchanged"
    assert len(llm_server.chat_requests) == 2 and llm_server.pending == 1
    assert ran.note(3) == "stopped before step 3: the last 2 answers changed nothing and the best score stood still"
    assert ran.steps[2].rejected  # the string for a number was refused
    # --max-unchanged 0 asks on (the cache answers the first two questions again): the third question
    # shows the rejection, so it is not a repeat
    ran = run(tmp_path, llm_server, steps=3, probe=False, max_unchanged=0, resample=0)
    assert ran.result.stopped_by == "" and [s.step for s in ran.steps] == [0, 1, 2, 3]
    assert len(llm_server.chat_requests) == 3 and llm_server.pending == 0 and "+MARKUP = 2.5" in ran.diff


def test_answers_that_change_nothing_do_not_stop_a_run_whose_best_score_moves(tmp_path, llm_server):
    # Each step's probe of MARKUP (+10%) beats the best so far: the run is not stuck, so it goes on.
    llm_server.script(answer(), answer(), answer())
    ran = run(shop(tmp_path), llm_server, steps=3, measured_step=False, resample=0)
    assert len(llm_server.chat_requests) == 3 and ran.result.stopped_by == ""
    assert all(s.candidate == {} for s in ran.steps[1:])  # no answer changed anything ...
    assert ran.steps[3].evaluation.score > ran.steps[1].evaluation.score  # ... while the probes raised the best
    assert re.search(r"probe shop\.MARKUP = .* is the best so far", ran.steps[3].note)


def test_a_gain_between_two_unchanged_answers_ends_their_streak():
    # ranks are (-failures, score): a measured step between two answers (no answer of its own) raised
    # the best from -4 to -3, so the second unchanged answer starts a new streak instead of stopping the run
    stall = _Stall(best=(0, -4.0))
    assert stall.after(False, (0, -4.0)) == 1
    assert stall.after(False, (0, -3.0)) == 0  # the measured step's gain, seen at the next answer
    assert stall.after(False, (0, -3.0)) == 1 and stall.after(False, (0, -3.0)) == 2
    assert stall.after(True, (0, -3.0)) == 0  # an answer with values to evaluate ends the streak too


def test_a_step_that_puts_a_question_a_new_way_is_no_stall():
    stall = _Stall(best=(0, -4.0))
    assert stall.after(False, (0, -4.0), [("p.reason", "whole")]) == 0  # first question about reason
    assert stall.after(False, (0, -4.0), [("p.act", "whole")]) == 0  # then about act
    assert stall.after(False, (0, -4.0), [("p.reason", "example")]) == 0  # reason, one example at a time
    assert stall.after(False, (0, -4.0), [("p.reason", "example")]) == 1  # asked that way before: it counts
    assert stall.after(False, (0, -4.0), [("p.act", "whole")]) == 2


def test_an_answer_that_changes_nothing_is_asked_again_sampled_in_the_same_step(tmp_path, llm_server):
    llm_server.script(answer(), answer(MARKUP=2.5))
    ran = run(shop(tmp_path), llm_server, steps=1, probe=False)
    first, again = llm_server.chat_requests
    assert first.json["temperature"] == 0 and again.json["temperature"] == 0.8
    assert again.json["seed"] == derived_seed(0, 1, "again", 1)  # the run's seed is 0 unless configured
    assert "Your previous answer kept every variable as it was" in again.json["messages"][-1]["content"]
    assert ran.steps[1].note.startswith("2 proposed (1 sampled again), 1 new, best -2.5;")
    assert ran.steps[1].candidate == {"shop.MARKUP": "2.5"} and "+MARKUP = 2.5  # autotrace: param" in ran.diff
    # the same run again replays from the response cache: the sampled answer's seed is the same
    again = run(shop(tmp_path), llm_server, steps=1, probe=False)
    assert len(llm_server.chat_requests) == 2 and "+MARKUP = 2.5  # autotrace: param" in again.diff
    assert again.steps[1].cached


def test_a_step_asks_again_at_most_resample_times(tmp_path, llm_server):
    llm_server.script(answer(), answer(), answer(), answer(MARKUP=2.5))
    ran = run(shop(tmp_path), llm_server, steps=1, probe=False, resample=2)
    assert len(llm_server.chat_requests) == 3 and llm_server.pending == 1
    seeds = [r.json["seed"] for r in llm_server.chat_requests[1:]]
    assert seeds == [derived_seed(0, 1, "again", 1), derived_seed(0, 1, "again", 2)]
    assert ran.steps[1].note.startswith("3 proposed (2 sampled again), 0 new")
    assert ran.diff == "" and ran.result.no_patch  # no patch


def test_an_answer_repeating_earlier_values_is_asked_again_with_that_said(tmp_path, llm_server):
    # step 1 moves MARKUP to 0.5 (worse); step 2's answer goes back to the initial 1.2, run before
    llm_server.script(answer(MARKUP=0.5), answer(MARKUP=1.2), answer(MARKUP=2.5))
    ran = run(shop(tmp_path), llm_server, steps=2, probe=False)
    again = llm_server.chat_requests[2].json["messages"][-1]["content"]
    assert "this is the initial values again; it scored -16.8, so it was not run again." in again
    assert "+MARKUP = 2.5  # autotrace: param" in ran.diff
    assert [c.values["shop.MARKUP"] for c in ran.pool] == ["1.2", "0.5", "2.5"]  # 1.2 was not run again


def test_a_crashed_program_never_replaces_the_best():
    one_failing = Evaluation((ExampleResult(score=1.0), ExampleResult(failed=True, message="Traceback ...")))
    clean_unscored = Evaluation((ExampleResult(), ExampleResult()))
    crashed = Evaluation((), problem="the program ended the worker (SIGKILL) before it reported a result")
    # the judge's mean counts the raising example (at 0): 0.5 is a score; the clean run has none to compare
    assert _better(one_failing, clean_unscored) and not _better(clean_unscored, one_failing)
    assert not _better(crashed, one_failing) and not _better(crashed, clean_unscored)
    assert _better(clean_unscored, crashed) and _better(one_failing, crashed)


def test_a_worse_candidates_worse_child_is_not_the_next_parent(tmp_path, llm_server):
    # quote = 11 * MARKUP against 30: 2.5 gives -2.5 (the best); from it 2.0 gives -8 (worse, shown
    # once: step 3 is about it); from that 1.5 gives -13.5: step 4 is about the best again, not 1.5
    llm_server.script(answer(MARKUP=2.5), answer(MARKUP=2.0), answer(MARKUP=1.5), answer(MARKUP=2.7))
    ran = run(shop(tmp_path), llm_server, steps=4, probe=False, max_unchanged=0)
    shown = [re.search(r"\(float\) shop\.MARKUP = (\S+)", r.json["messages"][-1]["content"])[1]
             for r in llm_server.chat_requests]
    assert shown == ["1.2", "2.5", "2.0", "2.5"]
    assert [s.parent for s in ran.steps[1:]] == [(0,), (1,), (2,), (1,)]


def test_a_raising_entry_is_feedback_and_the_loop_goes_on(tmp_path, llm_server):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "calc.py").write_text("DIVISOR = 0  # autotrace: param\n\n\ndef main():\n    return 10 / DIVISOR\n")
    (tmp_path / "judge.py").write_text(
        "def feedback(output):\n    return -abs(output - 5), f'output {output}, wanted 5'\n")
    llm_server.script({"reasoning": "no zero", "suggestion": {"calc.DIVISOR": 1}},
                      {"reasoning": "halve it", "suggestion": {"calc.DIVISOR": 2}})
    ran = run(tmp_path, llm_server, "calc.py", steps=2, target_score=0, probe=False)
    assert ran.result.reached_target
    # nothing judged yet: the raising example scores 0, and the count says it raised
    assert ran.steps[0].describe == "0, 1 of 1 raised" and ran.steps[0].evaluation.examples[0].failed
    first, second = (r.json["messages"][-1]["content"] for r in llm_server.chat_requests)
    assert "ZeroDivisionError" in first and "return 10 / DIVISOR" in first
    assert "output 10.0, wanted 5" in second
    assert "+DIVISOR = 2  # autotrace: param" in ran.diff
